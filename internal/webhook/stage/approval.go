package stage

import (
	"context"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/approval"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
)

// approvalGuard refuses, to someone without the approve verb on the Stage,
// a change that would change what approvals the Stage asks for: any change
// of spec.approval, and a change of labels that takes the Stage out of an
// ApprovalPolicy's selector. An approval policy guards a Stage against the
// people who may promote into it, so the right to promote (which changing
// the spec takes) must not be enough to take it away, and the right to
// change labels (which needs no promote) even less. Creation needs no more:
// a new Stage asks for what it asks. It returns nil when the webhook's
// other rules must decide.
func (v *Validator) approvalGuard(ctx context.Context, req admission.Request) *admission.Response {
	if req.Operation != admissionv1.Update {
		return nil
	}
	st, old := &kargoapi.Stage{}, &kargoapi.Stage{}
	if _, refusal := admit.Decode(v.Decode, req, "Stage", st, old); refusal != nil {
		return refusal
	}
	var why string
	if !equality.Semantic.DeepEqual(old.Spec.Approval, st.Spec.Approval) {
		why = "spec.approval says which approvals Freight needs before it is promoted into the Stage, so changing it needs the right to approve for the Stage"
	} else if !equality.Semantic.DeepEqual(old.Labels, st.Labels) {
		policies := &kargoapi.ApprovalPolicyList{}
		if err := v.Reader.List(ctx, policies, client.InNamespace(req.Namespace)); err != nil {
			resp := deny.Error(fmt.Errorf("list ApprovalPolicies in %s: %w", req.Namespace, err))
			return &resp
		}
		var left []string
		for _, p := range policies.Items {
			if approval.Selects(p.Spec.Stages, old) && !approval.Selects(p.Spec.Stages, st) {
				left = append(left, p.Name)
			}
		}
		if len(left) > 0 {
			why = fmt.Sprintf("this change of labels takes the Stage out of ApprovalPolicy %s, which asks for approvals before Freight is promoted into it, so it needs the right to approve for the Stage", strings.Join(left, ", "))
		}
	}
	if why == "" {
		return nil
	}
	return admit.Approve(ctx, v.Authz, req, st.Name, why)
}
