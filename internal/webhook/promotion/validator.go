// Package promotion holds the admission rules for Promotions: only a user
// with the promote verb on the Stage may create one, and it must name a
// Stage of its own project. The Freight is not checked here: the seed's
// example Promotion names Freight a fresh installation does not have, and
// must still apply; the Promotion then fails with a message saying so.
package promotion

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
	"github.com/kargohq/kargo/internal/webhook/project"
)

// Validator checks the creation of Promotions. Their spec is immutable
// (the CRD schema says so), so creation is the one moment to check.
type Validator struct {
	// Reader reads Stages and namespaces live.
	Reader client.Reader
	// Authz decides whether the requesting user may promote.
	Authz  *authz.Authorizer
	Decode admission.Decoder
}

// Handle runs the checks in an order that tells a user nothing they may
// not know: the right to promote comes before whether the Stage exists.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	if refusal := project.RequireProject(ctx, v.Reader, req); refusal != nil {
		return *refusal
	}
	p := &kargoapi.Promotion{}
	if _, refusal := admit.Decode(v.Decode, req, "Promotion", p, nil); refusal != nil {
		return *refusal
	}
	if refusal := admit.Promote(ctx, v.Authz, req, p.Spec.Stage, ""); refusal != nil {
		return *refusal
	}
	if err := v.Reader.Get(ctx, client.ObjectKey{Namespace: req.Namespace, Name: p.Spec.Stage}, &kargoapi.Stage{}); err != nil {
		if apierrors.IsNotFound(err) {
			return deny.Invalid(fmt.Sprintf("spec.stage: Stage %q not found in project %q; a Promotion names a Stage of its own project", p.Spec.Stage, req.Namespace))
		}
		return deny.Error(fmt.Errorf("get Stage %s: %w", p.Spec.Stage, err))
	}
	return admission.Allowed("")
}
