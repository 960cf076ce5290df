package promotion

import (
	"context"
	"fmt"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/promote/engine"
)

// replacedBy is who a Promotion replaced by a newer auto-promotion was
// aborted by.
const replacedBy = "kargo"

// abortedError stops the step engine at a safe point: returned by the
// save that follows a step, it keeps the next step from starting.
type abortedError struct{ by string }

func (e abortedError) Error() string { return "the Promotion was aborted by " + e.by }

// abortRequested says who asked to abort the Promotion, if anyone did.
// kargo's webhooks let only someone who may promote into the Stage set the
// annotation, and write who they are into it.
func abortRequested(p *kargoapi.Promotion) (string, bool) {
	by, ok := p.Annotations[kargoapi.AbortAnnotationKey]
	return by, ok
}

// abortAsked is the predicate that lets an added abort annotation reach
// the reconciler: a Promotion's spec never changes, so its generation
// does not either.
func abortAsked() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			_, before := e.ObjectOld.GetAnnotations()[kargoapi.AbortAnnotationKey]
			_, after := e.ObjectNew.GetAnnotations()[kargoapi.AbortAnnotationKey]
			return after && !before
		},
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// abort ends a Promotion someone asked to abort. Reconcile runs between
// two steps (the engine saves each step's record before the next starts,
// and a waiting step is looked at again by a new Reconcile), so this is a
// safe point: no step is cut in half. A Promotion that holds its Stage
// releases it, with the Stage's current Freight unchanged; the steps done
// already are not undone.
func (r *Reconciler) abort(ctx context.Context, in inputs, by string) (ctrl.Result, error) {
	promo := in.promo
	msg := fmt.Sprintf("Aborted by %s", by)
	if n := len(promo.Spec.Steps); n > 0 && started(in) {
		msg += fmt.Sprintf(" after %d of %d steps; the steps done are not undone and the Stage's current Freight is unchanged", promo.Status.CurrentStep, n)
	} else if !started(in) {
		msg += " before it started"
	}
	promo.Status.AbortedBy = by
	promo.Status.Approval = nil
	if in.stage != nil && in.freight != nil && in.stage.Status.CurrentPromotion != nil && claims(in.stage.Status.CurrentPromotion, promo) {
		if r.WorkDir != "" && promo.UID != "" {
			if err := r.Steps.RemoveWorkDir(filepath.Join(r.WorkDir, string(promo.UID))); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "remove an aborted Promotion's work directory")
			}
		}
		return ctrl.Result{}, r.finish(ctx, in.stage, in.freight, promo, kargoapi.PromotionPhaseAborted, msg)
	}
	r.end(promo, kargoapi.PromotionPhaseAborted, msg)
	return ctrl.Result{}, nil
}

// abortable wraps the save that follows each step: once the step's record
// is saved (or, when it need not be durable yet, kept for a later write),
// an abort asked meanwhile stops the engine before the next step starts.
// After a durable save, the save's answer is the Promotion as the API
// server holds it after the write, annotations included, so it tells of an
// abort as a live read would (the cache may lag) without a request of its
// own; otherwise the Promotion is read from the cache, which costs no
// request either. After the last step there is nothing left to stop.
func (r *Reconciler) abortable(ctx context.Context, promo *kargoapi.Promotion, save engine.Save) engine.Save {
	return func(durable bool) error {
		if err := save(durable); err != nil {
			return err
		}
		if int(promo.Status.CurrentStep) >= len(promo.Spec.Steps) {
			return nil
		}
		seen := promo
		if !durable {
			seen = &kargoapi.Promotion{}
			if err := r.Client.Get(ctx, client.ObjectKeyFromObject(promo), seen); err != nil {
				return fmt.Errorf("look for an abort of Promotion %s: %w", promo.Name, err)
			}
		}
		if by, ok := abortRequested(seen); ok {
			ctrl.LoggerFrom(ctx).Info("promotion aborted between steps", "promotion", promo.Name, "by", by, "step", promo.Status.CurrentStep)
			return abortedError{by: by}
		}
		return nil
	}
}

// isAuto says whether a PromotionPolicy's auto-promotion created p.
func isAuto(p *kargoapi.Promotion) bool {
	_, ok := p.Labels[kargoapi.AutoPromotedByLabelKey]
	return ok
}

// gatherReplacement finds, for an auto-promotion that has not started into
// a Stage set to ReplaceWithNewest, a newer auto-promotion queued behind it
// of Freight of the same origin: that one replaces it.
func (r *Reconciler) gatherReplacement(ctx context.Context, in *inputs) error {
	st, promo := in.stage, in.promo
	if st == nil || st.Spec.QueuedAutoPromotions != kargoapi.QueuedAutoPromotionsReplaceWithNewest ||
		!isAuto(promo) || started(*in) || in.freight == nil {
		return nil
	}
	behind := false
	for i := range in.queue {
		q := &in.queue[i]
		if q.Name == promo.Name {
			behind = true
			continue
		}
		if !behind || !isAuto(q) || q.Status.Phase.IsTerminal() || q.Spec.Freight == promo.Spec.Freight {
			continue
		}
		f := &kargoapi.Freight{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: q.Namespace, Name: q.Spec.Freight}, f); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("get Freight %s: %w", q.Spec.Freight, err)
		}
		if sameOrigin(f.Origin, in.freight.Origin) {
			in.replacement = q.DeepCopy()
		}
	}
	return nil
}

func sameOrigin(a, b *kargoapi.FreightOrigin) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// replacementGate is the part of decide that aborts a queued
// auto-promotion a newer one replaces.
func replacementGate(in inputs) (decision, bool) {
	if in.replacement == nil {
		return decision{}, false
	}
	return decision{next: stepAbort, message: fmt.Sprintf("Replaced by Promotion %s of newer Freight %s before it started (Stage %s replaces queued auto-promotions with the newest)",
		in.replacement.Name, in.replacement.Spec.Freight, in.stage.Name)}, true
}

// olderQueued maps a new auto-promotion to the older ones of its Stage
// that have not started, which it may replace.
func (r *Reconciler) olderQueued(ctx context.Context, o client.Object) []reconcile.Request {
	p := o.(*kargoapi.Promotion)
	if !isAuto(p) || p.Status.Phase.IsTerminal() {
		return nil
	}
	list := &kargoapi.PromotionList{}
	if err := r.Client.List(ctx, list, client.InNamespace(p.Namespace)); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		q := &list.Items[i]
		if q.Spec.Stage == p.Spec.Stage && q.Name != p.Name && isAuto(q) && !q.Status.Phase.IsTerminal() && q.Status.Phase != kargoapi.PromotionPhaseRunning {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(q)})
		}
	}
	return reqs
}
