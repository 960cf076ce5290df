package stage

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// AutoPromotedByLabelKey marks Promotions the controller created because of
// a PromotionPolicy.
const AutoPromotedByLabelKey = "kargo.akuity.io/promotion-policy"

// AutoPromotionCandidate returns the Freight an auto-promotion should move
// into st, or "" when there is none: the newest available Freight, unless a
// Promotion for st is still in flight, or that Freight is already current,
// or it was in st before or was the subject of an earlier Promotion into st
// (so a manual rollback to older Freight is not undone, and a failed
// promotion is not retried in a loop, until newer Freight appears).
func AutoPromotionCandidate(st *kargoapi.Stage, promos []kargoapi.Promotion) string {
	for _, p := range promos {
		if !p.Status.Phase.IsTerminal() {
			return ""
		}
	}
	if len(st.Status.AvailableFreight) == 0 {
		return ""
	}
	newest := st.Status.AvailableFreight[0].ID
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

// autoPromote creates a Promotion for the auto-promotion candidate when a
// PromotionPolicy enables auto-promotion into st.
func (r *Reconciler) autoPromote(ctx context.Context, st *kargoapi.Stage, promos []kargoapi.Promotion) error {
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
	candidate := AutoPromotionCandidate(st, promos)
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
