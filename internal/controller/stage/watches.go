package stage

import (
	"context"
	"slices"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/argocd"
	"github.com/kargohq/kargo/internal/availability"
)

// StageAppIndex indexes Stages by the Argo CD Applications
// ("namespace/name") they update.
const StageAppIndex = "argocd.applications"

// appsOfStage extracts StageAppIndex.
func (r *Reconciler) appsOfStage(o client.Object) []string {
	st := o.(*kargoapi.Stage)
	updates := argocd.Updates(st)
	keys := make([]string, 0, len(updates))
	for _, u := range updates {
		ns := u.AppNamespace
		if ns == "" {
			ns = r.ArgoCDNamespace
		}
		keys = append(keys, ns+"/"+u.AppName)
	}
	return keys
}

// stagesOfApp maps an Argo CD Application to the Stages that update it.
func (r *Reconciler) stagesOfApp(ctx context.Context, o client.Object) []reconcile.Request {
	list := &kargoapi.StageList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{StageAppIndex: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list Stages of an Application", "application", o.GetNamespace()+"/"+o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, len(list.Items))
	for i := range list.Items {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
	}
	return reqs
}

func stageOfPromotion(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.(*kargoapi.Promotion).Spec.Stage}}}
}

// stageOfPolicy maps a PromotionPolicy to its Stage.
func stageOfPolicy(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.(*kargoapi.PromotionPolicy).Stage}}}
}

// stagesOfFreight maps a Freight to the Stages of its project whose
// available Freight it can change: those that receive its origin's
// Freight, those downstream of a Stage it was verified in, and those it is
// approved for, and those that show it (whose alias may have changed).
// The map is applied to both the old and the new object of
// an update, so a Freight that stops being verified or approved reaches
// the Stages it leaves too.
func (r *Reconciler) stagesOfFreight(ctx context.Context, o client.Object) []reconcile.Request {
	f, ok := o.(*kargoapi.Freight)
	if !ok {
		return nil
	}
	// Every Stage of the project works its Freight out again at its next
	// pass, including those this change is not queued for.
	r.memo.bump(f.Namespace)
	list := &kargoapi.StageList{}
	if err := r.Client.List(ctx, list, client.InNamespace(f.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list Stages to requeue after a Freight change", "namespace", f.Namespace)
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if availability.Concerns(&list.Items[i], f) || names(&list.Items[i], f.Name) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// names reports whether st's status names Freight name.
func names(st *kargoapi.Stage, name string) bool {
	return slices.ContainsFunc(freightRefs(st), func(r *kargoapi.SimpleFreight) bool { return r.ID == name })
}

// promoted passes the Promotion controller's writes to a Stage's status:
// a new current Freight must be verified, and the Promotion's own event
// can arrive before the Stage's cache has seen the write, so the pass it
// starts would see the old Freight. The Stage controller's own status
// writes (aliases, health) change neither, so they do not come back to it.
func promoted() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, ok1 := e.ObjectOld.(*kargoapi.Stage)
			after, ok2 := e.ObjectNew.(*kargoapi.Stage)
			if !ok1 || !ok2 {
				return false
			}
			return freightID(before.Status.CurrentFreight) != freightID(after.Status.CurrentFreight) ||
				promotionName(before.Status.CurrentPromotion) != promotionName(after.Status.CurrentPromotion)
		},
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func freightID(f *kargoapi.SimpleFreight) string {
	if f == nil {
		return ""
	}
	return f.ID
}

func promotionName(p *kargoapi.PromotionReference) string {
	if p == nil {
		return ""
	}
	return p.Name
}

var (
	_ handler.MapFunc = stageOfPromotion
	_ handler.MapFunc = stageOfPolicy
)
