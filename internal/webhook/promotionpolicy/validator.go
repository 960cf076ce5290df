// Package promotionpolicy holds the admission rules for PromotionPolicies:
// turning auto-promotion on for a Stage is itself a promotion right, and a
// Stage has at most one policy.
package promotionpolicy

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
	"github.com/kargohq/kargo/internal/webhook/project"
)

// Validator checks the creation and change of PromotionPolicies.
type Validator struct {
	// Reader lists policies and reads namespaces live.
	Reader client.Reader
	// Authz decides whether the requesting user may promote.
	Authz  *authz.Authorizer
	Decode admission.Decoder
}

// Handle requires the promote verb on the policy's Stage (and, when a
// change moves the policy, on the Stage it leaves): whoever may only edit
// Stages must not be able to make kargo promote on their behalf.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if refusal := project.RequireProject(ctx, v.Reader, req); refusal != nil {
		return *refusal
	}
	policy, old := &kargoapi.PromotionPolicy{}, &kargoapi.PromotionPolicy{}
	changed, refusal := admit.Decode(v.Decode, req, "PromotionPolicy", policy, old)
	if refusal != nil {
		return *refusal
	}
	stages := []string{policy.Stage}
	if changed && old.Stage != policy.Stage {
		stages = append(stages, old.Stage)
	}
	for _, stage := range stages {
		if refusal := admit.Promote(ctx, v.Authz, req, stage, "a PromotionPolicy promotes on its author's behalf, so writing one needs the right to promote"); refusal != nil {
			return *refusal
		}
	}
	policies := &kargoapi.PromotionPolicyList{}
	if err := v.Reader.List(ctx, policies, client.InNamespace(req.Namespace)); err != nil {
		return deny.Error(fmt.Errorf("list PromotionPolicies in %s: %w", req.Namespace, err))
	}
	for _, other := range policies.Items {
		if other.Name != policy.Name && other.Stage == policy.Stage {
			return deny.Conflict(fmt.Sprintf("Stage %q already has PromotionPolicy %q; a Stage has at most one policy, so change that one instead", policy.Stage, other.Name))
		}
	}
	return admission.Allowed("")
}
