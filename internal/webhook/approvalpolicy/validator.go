// Package approvalpolicy holds the admission rules for ApprovalPolicies.
// A policy protects Stages against a promoter acting alone, so taking that
// protection away from a Stage (changing or deleting a policy that selects
// it) needs the approve verb on that Stage, which a promoter does not hold
// by promoting alone; creating one needs only RBAC, since it only asks for
// more. Names and globs must parse.
package approvalpolicy

import (
	"context"
	"fmt"
	"path"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/approval"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
	"github.com/kargohq/kargo/internal/webhook/project"
)

// Validator checks the creation, change and deletion of ApprovalPolicies.
type Validator struct {
	// Reader reads Stages and namespaces live.
	Reader client.Reader
	// Authz asks whether the requesting user may approve.
	Authz  *authz.Authorizer
	Decode admission.Decoder
}

// Handle refuses malformed selectors, and a change or deletion by someone
// without the approve verb on every Stage the policy selected.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation == admissionv1.Delete {
		return v.deleting(ctx, req)
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if refusal := project.RequireProject(ctx, v.Reader, req); refusal != nil {
		return *refusal
	}
	p, old := &kargoapi.ApprovalPolicy{}, &kargoapi.ApprovalPolicy{}
	changed, refusal := admit.Decode(v.Decode, req, "ApprovalPolicy", p, old)
	if refusal != nil {
		return *refusal
	}
	if msg := check(p.Spec.Stages); msg != "" {
		return deny.Invalid(msg)
	}
	if !changed || equality.Semantic.DeepEqual(old.Spec, p.Spec) {
		return admission.Allowed("")
	}
	return v.mayLoosen(ctx, req, old, "changing")
}

// deleting lets a policy go with its project's namespace, and otherwise
// only for someone who may approve for every Stage it selects.
func (v *Validator) deleting(ctx context.Context, req admission.Request) admission.Response {
	ns := &corev1.Namespace{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Name: req.Namespace}, ns); err != nil {
		return deny.Error(fmt.Errorf("get namespace %s: %w", req.Namespace, err))
	}
	if ns.DeletionTimestamp != nil {
		return admission.Allowed("")
	}
	old := &kargoapi.ApprovalPolicy{}
	if err := v.Decode.DecodeRaw(req.OldObject, old); err != nil {
		return deny.BadRequest(fmt.Errorf("decode the ApprovalPolicy being deleted: %w", err))
	}
	return v.mayLoosen(ctx, req, old, "deleting")
}

// mayLoosen asks for the approve verb on each Stage old selects.
func (v *Validator) mayLoosen(ctx context.Context, req admission.Request, old *kargoapi.ApprovalPolicy, doing string) admission.Response {
	stages := &kargoapi.StageList{}
	if err := v.Reader.List(ctx, stages, client.InNamespace(req.Namespace)); err != nil {
		return deny.Error(fmt.Errorf("list Stages in %s: %w", req.Namespace, err))
	}
	for i := range stages.Items {
		st := &stages.Items[i]
		if !approval.Selects(old.Spec.Stages, st) {
			continue
		}
		why := fmt.Sprintf("ApprovalPolicy %q asks for approvals before Freight is promoted into Stage %q, so %s it needs the right to approve for that Stage", old.Name, st.Name, doing)
		if refusal := admit.Approve(ctx, v.Authz, req, st.Name, why); refusal != nil {
			return *refusal
		}
	}
	return admission.Allowed("")
}

// check returns what is wrong with a selector, or "".
func check(sel kargoapi.ApprovalStageSelector) string {
	for i, n := range sel.Names {
		if _, err := path.Match(n, ""); err != nil {
			return fmt.Sprintf("spec.stages.names[%d]: %q is not a valid glob (path.Match syntax: *, ?, [a-z]): %v", i, n, err)
		}
	}
	if sel.Selector != nil {
		if _, err := metav1.LabelSelectorAsSelector(sel.Selector); err != nil {
			return fmt.Sprintf("spec.stages.selector: %v", err)
		}
	}
	return ""
}
