package stage

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/availability"
	"github.com/kargohq/kargo/internal/freight"
)

// AutoPromotedByLabelKey marks Promotions the controller created because of
// a PromotionPolicy.
const AutoPromotedByLabelKey = "kargo.akuity.io/promotion-policy"

// AutoPromotionCandidate returns the Freight an auto-promotion should move
// into st, or "" when there is none: newest, the newest available Freight
// that kargo's controller produced (see NewestAutoPromotable), unless a
// Promotion for st is still in flight, or that Freight is already current,
// or it was in st before or was the subject of an earlier Promotion into st
// (so a manual rollback to older Freight is not undone, and a failed
// promotion is not retried in a loop, until newer Freight appears).
func AutoPromotionCandidate(st *kargoapi.Stage, newest string, promos []kargoapi.Promotion) string {
	for _, p := range promos {
		if !p.Status.Phase.IsTerminal() {
			return ""
		}
	}
	if newest == "" {
		return ""
	}
	if c := st.Status.CurrentFreight; c != nil && c.ID == newest {
		return ""
	}
	for _, h := range st.Status.History {
		if h.ID == newest {
			return ""
		}
	}
	for _, p := range promos {
		if p.Spec.Freight == newest {
			return ""
		}
	}
	return newest
}

// NewestAutoPromotable returns the name of the newest Freight among all
// (the Freight of st's namespace) that st may receive at now and that
// kargo's controller produced, or "". Freight anyone else created, even
// claiming a Warehouse as its origin, even verified upstream or approved
// for st, is never auto-promoted: someone who may promote into st must
// choose it. Nor does it hide the controller's Freight, however much of it
// there is or however new it claims to be.
func NewestAutoPromotable(st *kargoapi.Stage, all []kargoapi.Freight, now time.Time) string {
	if f := availability.Newest(st, all, now, freight.ProducedByController); f != nil {
		return f.Name
	}
	return ""
}

// autoPromote creates a Promotion for the auto-promotion candidate when a
// PromotionPolicy enables auto-promotion into st; newest is
// NewestAutoPromotable's answer.
func (r *Reconciler) autoPromote(ctx context.Context, st *kargoapi.Stage, newest string, promos []kargoapi.Promotion) error {
	policies := &kargoapi.PromotionPolicyList{}
	if err := r.Client.List(ctx, policies, client.InNamespace(st.Namespace), client.MatchingFields{PolicyStageIndex: st.Name}); err != nil {
		return fmt.Errorf("list PromotionPolicies of Stage %s: %w", st.Name, err)
	}
	var policy *kargoapi.PromotionPolicy
	for i := range policies.Items {
		if policies.Items[i].EnableAutoPromotion {
			policy = &policies.Items[i]
			break
		}
	}
	if policy == nil {
		return nil
	}
	candidate := AutoPromotionCandidate(st, newest, promos)
	if candidate == "" {
		return nil
	}
	short := candidate
	if len(short) > 12 {
		short = short[:12]
	}
	promo := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s-auto-%s", st.Name, short),
			Namespace: st.Namespace,
			Labels:    map[string]string{AutoPromotedByLabelKey: policy.Name},
		},
		Spec: kargoapi.PromotionSpec{Stage: st.Name, Freight: candidate},
	}
	if err := r.Client.Create(ctx, promo); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("create auto-promotion of %s into Stage %s: %w", candidate, st.Name, err)
	}
	r.Recorder.Eventf(st, promo, "Normal", "AutoPromotionCreated", "Promote",
		"PromotionPolicy %s created Promotion %s of Freight %s", policy.Name, promo.Name, candidate)
	return nil
}
