package promotion

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/flowgate"
)

// stops is what holds, freezes and windows a Promotion's decision needs:
// its project (nil when it cannot be read) and the project's
// PromotionWindows.
type stops struct {
	project *kargoapi.Project
	windows []kargoapi.PromotionWindow
}

// gatherStops reads the Promotion's Project and PromotionWindows.
func (r *Reconciler) gatherStops(ctx context.Context, namespace string) (stops, error) {
	var s stops
	p := &kargoapi.Project{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: namespace}, p); {
	case err == nil:
		s.project = p
	case !apierrors.IsNotFound(err):
		return s, fmt.Errorf("get Project %s: %w", namespace, err)
	}
	ws := &kargoapi.PromotionWindowList{}
	if err := r.Client.List(ctx, ws, client.InNamespace(namespace)); err != nil {
		return s, fmt.Errorf("list PromotionWindows of %s: %w", namespace, err)
	}
	s.windows = ws.Items
	return s, nil
}

// stopped says whether a hold, a freeze or a window keeps the Promotion
// from starting, and if so what it does: wait, Pending, with a message
// naming the stop, until it ends. A Promotion that has started (Running,
// or the Stage's claim) finishes: a hold stops what has not begun, never
// half a promotion. Only windows are overridden, by a Promotion whose
// creator held the override-window verb (the admission webhook checked).
func stopped(in inputs, now time.Time) (decision, bool) {
	promo, st := in.promo, in.stage
	if started(in) {
		return decision{}, false
	}
	override := promo.Annotations[kargoapi.OverrideWindowAnnotationKey] == kargoapi.LabelTrueValue
	stop := flowgate.Check(st, in.stops.project, in.stops.windows, now, override)
	if stop == nil {
		return decision{}, false
	}
	d := decision{next: stepWait, message: stop.Message()}
	if !stop.Until.IsZero() {
		// Look again when the window ends; the watches below catch every
		// earlier change (a hold released, a window edited).
		d.after = stop.Until.Sub(now) + time.Second
	}
	return d, true
}

// watchStops makes the reconciler look again at a project's waiting
// Promotions when a stop may have ended: a Stage's hold changes, the
// Project's freeze changes, or a PromotionWindow changes.
func (r *Reconciler) watchStops(b *builder.Builder) *builder.Builder {
	holdChanged := predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			switch old := e.ObjectOld.(type) {
			case *kargoapi.Stage:
				return (old.Status.Hold == nil) != (e.ObjectNew.(*kargoapi.Stage).Status.Hold == nil)
			case *kargoapi.Project:
				return (old.Status.Freeze == nil) != (e.ObjectNew.(*kargoapi.Project).Status.Freeze == nil)
			}
			return false
		},
	}
	return b.
		Watches(&kargoapi.Stage{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.waiting(ctx, o.GetNamespace(), o.GetName())
		}), builder.WithPredicates(holdChanged)).
		Watches(&kargoapi.Project{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.waiting(ctx, o.GetName(), "")
		}), builder.WithPredicates(holdChanged)).
		Watches(&kargoapi.PromotionWindow{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.waiting(ctx, o.GetNamespace(), "")
		}))
}

// waiting lists the Promotions of namespace (of stage, unless empty) that
// have not ended.
func (r *Reconciler) waiting(ctx context.Context, namespace, stage string) []reconcile.Request {
	list := &kargoapi.PromotionList{}
	opts := []client.ListOption{client.InNamespace(namespace)}
	if stage != "" {
		opts = append(opts, client.MatchingFields{index.PromotionsByStage: stage})
	}
	if err := r.Client.List(ctx, list, opts...); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if !list.Items[i].Status.Phase.IsTerminal() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}
