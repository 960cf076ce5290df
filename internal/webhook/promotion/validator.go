// Package promotion holds the admission rules for Promotions: only a user
// with the promote verb on the Stage may create one, and it must name a
// Stage of its own project. For a Stage that requests Freight by origin
// (spec.requestedFreight), Freight of an origin it does not request is
// refused: such a Promotion could never succeed. Whether the Freight exists
// is not checked here: the seed's example Promotion names Freight a fresh
// installation does not have, and must still apply; the Promotion then
// fails with a message saying so.
package promotion

import (
	"context"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/availability"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
	"github.com/kargohq/kargo/internal/webhook/project"
)

// Validator checks the creation of Promotions. Their spec is immutable
// (the CRD schema says so), so creation is the one moment to check it; a
// change is checked only when it asks to abort (abort.go).
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
	if req.Operation == admissionv1.Update {
		return v.validateUpdate(ctx, req)
	}
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
	st := &kargoapi.Stage{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Namespace: req.Namespace, Name: p.Spec.Stage}, st); err != nil {
		if apierrors.IsNotFound(err) {
			return deny.Invalid(fmt.Sprintf("spec.stage: Stage %q not found in project %q; a Promotion names a Stage of its own project", p.Spec.Stage, req.Namespace))
		}
		return deny.Error(fmt.Errorf("get Stage %s: %w", p.Spec.Stage, err))
	}
	return v.originRequested(ctx, st, p)
}

// originRequested refuses a Promotion, into a Stage that requests Freight by
// origin, of Freight whose origin the Stage does not request.
func (v *Validator) originRequested(ctx context.Context, st *kargoapi.Stage, p *kargoapi.Promotion) admission.Response {
	if len(st.Spec.RequestedFreight) == 0 {
		return admission.Allowed("")
	}
	f := &kargoapi.Freight{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: p.Spec.Freight}, f); err != nil {
		if apierrors.IsNotFound(err) {
			return admission.Allowed("")
		}
		return deny.Error(fmt.Errorf("get Freight %s: %w", p.Spec.Freight, err))
	}
	if availability.RequestOf(availability.Requests(st), f.Origin) >= 0 {
		return admission.Allowed("")
	}
	var want []string
	for _, o := range availability.Origins(st) {
		want = append(want, string(o.Kind)+" "+o.Name)
	}
	from := "no known origin"
	if f.Origin != nil {
		from = string(f.Origin.Kind) + " " + f.Origin.Name
	}
	return deny.Invalid(fmt.Sprintf("spec.freight: Freight %s comes from %s, which Stage %q does not request (it requests Freight from %s); promote Freight of a requested origin",
		p.Spec.Freight, from, st.Name, strings.Join(want, ", ")))
}
