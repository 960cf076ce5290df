package promotion

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/approval"
)

// gatherApproval reads what the approval gate needs: the project's
// ApprovalPolicies (from the cache), when the Stage exists.
func (r *Reconciler) gatherApproval(ctx context.Context, in *inputs) error {
	if in.stage == nil {
		return nil
	}
	list := &kargoapi.ApprovalPolicyList{}
	if err := r.Client.List(ctx, list, client.InNamespace(in.promo.Namespace)); err != nil {
		return fmt.Errorf("list ApprovalPolicies of %s: %w", in.promo.Namespace, err)
	}
	in.approvalPolicies = list.Items
	return nil
}

// approvalGate is the part of decide that keeps a Promotion Pending until
// its Stage's approval policies are met by the Freight's approvals for the
// Stage: each requirement's number of approvers, none of them the
// Promotion's creator, none expired. A Promotion that runs already is not
// stopped by an approval expiring meanwhile. It returns the wait, and
// false when the Promotion may go on.
func approvalGate(in inputs, now time.Time) (decision, bool) {
	if in.stage == nil || in.freight == nil || started(in) {
		return decision{}, false
	}
	reqs := approval.Requirements(in.stage, in.approvalPolicies)
	if len(reqs) == 0 {
		return decision{}, false
	}
	promoter := in.promo.Annotations[kargoapi.PromotionCreatedByAnnotationKey]
	given := in.freight.Status.Approvals[in.stage.Name]
	unmet := approval.Check(reqs, given, promoter, now)
	if len(unmet) == 0 {
		return decision{}, false
	}
	msg := approval.Describe(unmet, approval.NotCounted(unmet, given, promoter, now), promoter)
	// A new approval of the Freight, a changed policy or Stage enqueues the
	// Promotion again (approvalWaiters); the periodic look covers an
	// approval that arrived while the watch was down.
	return decision{next: stepWait, message: msg, after: 5 * time.Minute, awaitingApproval: true}, true
}

// noteApprovalWait records in the Promotion's status what it waits for,
// keeping the time it began waiting, or clears it once it does not.
func noteApprovalWait(promo *kargoapi.Promotion, d decision, now time.Time) {
	if !d.awaitingApproval {
		promo.Status.Approval = nil
		return
	}
	since := metav1.NewTime(now)
	if promo.Status.Approval != nil && promo.Status.Approval.WaitingSince != nil {
		since = *promo.Status.Approval.WaitingSince
	}
	promo.Status.Approval = &kargoapi.PromotionApprovalStatus{WaitingSince: &since, Missing: d.message}
}

// approvalWaiters maps a Freight, a Stage or an ApprovalPolicy to the
// Promotions of its project that wait for approval and that it may
// concern, so that a new approval (or a changed policy) lets them go at
// once.
func (r *Reconciler) approvalWaiters(ctx context.Context, o client.Object) []reconcile.Request {
	list := &kargoapi.PromotionList{}
	if err := r.Client.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		p := &list.Items[i]
		if p.Status.Phase.IsTerminal() || p.Status.Approval == nil {
			continue
		}
		switch o.(type) {
		case *kargoapi.Freight:
			if p.Spec.Freight != o.GetName() {
				continue
			}
		case *kargoapi.Stage:
			if p.Spec.Stage != o.GetName() {
				continue
			}
		}
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
	}
	return reqs
}
