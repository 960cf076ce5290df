// Package warehouse holds the admission rules for Warehouses: their
// subscriptions, in either shape, follow the rules of a Stage's
// subscriptions.repos (see subscriptionRules); and a Warehouse
// decides which artifacts become the Freight of the Stages that subscribe
// to it, and auto-promotion moves that Freight on without anyone's further
// say. So creating a Warehouse, or changing its spec, needs the promote
// verb on every Stage that subscribes to it directly; a Warehouse no Stage
// subscribes to needs no more than RBAC. (A Stage that subscribes to
// upstream Stages receives only Freight verified there.)
package warehouse

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
	"github.com/kargohq/kargo/internal/webhook/project"
)

// Validator checks the creation and change of Warehouses.
type Validator struct {
	// Reader reads namespaces live.
	Reader client.Reader
	// Stages lists a project's Stages. It reads live, not from a cache:
	// this list decides whose promote verb a change needs, and a Stage
	// created a moment before a change of its Warehouse must count (with a
	// cache, the change could slip through before the Stage reached it).
	// Only creations and spec changes list, which people make, not the
	// controllers' status and refresh writes.
	Stages client.Reader
	// Authz asks whether the requesting user may promote.
	Authz  *authz.Authorizer
	Decode admission.Decoder
}

// Handle requires the promote verb on each Stage fed by the Warehouse when
// the request creates it or changes its spec. Creation counts too: a
// Warehouse deleted and created again under its name feeds the same Stages.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if refusal := project.RequireProject(ctx, v.Reader, req); refusal != nil {
		return *refusal
	}
	// The schema leaves subscriptions to this webhook (see
	// subscriptionRules); nothing is decoded before they are checked.
	invalid, err := checkSubscriptions(ctx, req.Object.Raw)
	if err != nil {
		return deny.Error(err)
	}
	if len(invalid) > 0 {
		return deny.Invalid(invalid.ToAggregate().Error())
	}
	wh, old := &kargoapi.Warehouse{}, &kargoapi.Warehouse{}
	changed, refusal := admit.Decode(v.Decode, req, "Warehouse", wh, old)
	if refusal != nil {
		return *refusal
	}
	if c := wh.Spec.FreightCreationCriteria; c != nil {
		if _, err := freight.CompileCriterion(c.Expression); err != nil {
			return deny.Invalid("spec.freightCreationCriteria.expression: " + err.Error())
		}
	}
	if changed && equality.Semantic.DeepEqual(old.Spec, wh.Spec) {
		return admission.Allowed("")
	}
	stages := &kargoapi.StageList{}
	if err := v.Stages.List(ctx, stages, client.InNamespace(req.Namespace)); err != nil {
		return deny.Error(fmt.Errorf("list Stages in %s: %w", req.Namespace, err))
	}
	for _, st := range stages.Items {
		if st.Spec.Subscriptions == nil || st.Spec.Subscriptions.Warehouse != wh.Name {
			continue
		}
		why := fmt.Sprintf("Stage %q subscribes to Warehouse %q, whose artifacts become the Freight it receives and auto-promotes, so creating the Warehouse or changing its spec needs the right to promote into that Stage", st.Name, wh.Name)
		if refusal := admit.Promote(ctx, v.Authz, req, st.Name, why); refusal != nil {
			return *refusal
		}
	}
	return admission.Allowed("")
}
