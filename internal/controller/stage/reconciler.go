// Package stage reconciles Stages. A Stage that subscribes to repositories
// directly (spec.subscriptions.repos, as in the Concepts page) gets the same
// discovery as a Warehouse: each new set of artifacts becomes Freight with
// the Stage as its origin and is pushed onto status.availableFreight.
package stage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocd "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/availability"
	"github.com/kargohq/kargo/internal/collection"
	"github.com/kargohq/kargo/internal/controller/conditions"
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/controller/poll"
	"github.com/kargohq/kargo/internal/discovery"
	"github.com/kargohq/kargo/internal/shard"
	"github.com/kargohq/kargo/internal/verification"
)

const (
	// pollInterval is how often a Stage's own repository subscriptions are
	// polled; Stages have no interval field, so they poll as often as a
	// Warehouse does by default.
	pollInterval = 5 * time.Minute
	// discoveryLimit caps candidates per subscription, as a Warehouse's
	// default discoveryLimit does.
	discoveryLimit = 20
)

// Reconciler reconciles Stages.
type Reconciler struct {
	Client client.Client
	// Poller polls the Stage's own repository subscriptions, as it does a
	// Warehouse's.
	Poller   *poll.Poller
	Recorder events.EventRecorder
	// Verifier follows health and runs verifications after promotions;
	// nil leaves both alone.
	Verifier *verification.Verifier
	// ArgoCDNamespace is where Applications live when an update names no
	// namespace.
	ArgoCDNamespace string
	// WatchApplications brings the Stages that update an Argo CD
	// Application up to date when it changes; it needs the Application
	// type and the right to watch it (argocd.WatchScope).
	WatchApplications bool
	// Shard is the projects this controller set owns; nil owns all.
	Shard *shard.Shard
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	written availableWrites
	memo    freightMemo
}

// SetupWithManager registers the reconciler. With WatchApplications, a
// change to an Application brings the Stages that update it up to date at
// once.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr)
	if r.WatchApplications {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), &kargoapi.Stage{}, StageAppIndex, r.appsOfStage); err != nil {
			return fmt.Errorf("index Stages by Application: %w", err)
		}
		b = b.Watches(&argocd.Application{}, handler.EnqueueRequestsFromMapFunc(r.stagesOfApp))
	}
	return b.
		For(&kargoapi.Stage{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			promoted(),
		))).
		Watches(&kargoapi.Freight{}, handler.EnqueueRequestsFromMapFunc(r.stagesOfFreight)).
		Watches(&kargoapi.Promotion{}, handler.EnqueueRequestsFromMapFunc(stageOfPromotion)).
		Watches(&kargoapi.PromotionPolicy{}, handler.EnqueueRequestsFromMapFunc(stageOfPolicy)).
		Watches(&kargoapi.Project{}, shard.EnqueueAll(r.Client, func() client.ObjectList { return &kargoapi.StageList{} }),
			builder.WithPredicates(shard.OwnerChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8, RateLimiter: poll.RetryRateLimiter()}).
		Complete(r)
}

// Reconcile brings a Stage's status up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	st := &kargoapi.Stage{}
	if err := r.Client.Get(ctx, req.NamespacedName, st); err != nil {
		if apierrors.IsNotFound(err) {
			r.written.forget(req.NamespacedName)
			r.memo.forget(req.NamespacedName)
			discovery.Forget(req.Namespace, kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginStage, Name: req.Name})
			if r.Verifier != nil {
				r.Verifier.Forget(req.Namespace, req.Name)
			}
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !st.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if owned, err := r.Shard.Owns(ctx, st.Namespace); !owned || err != nil {
		return ctrl.Result{}, err
	}
	before := st.DeepCopy()
	defer func() {
		if equality.Semantic.DeepEqual(before.Status, st.Status) {
			r.memo.settle(req.NamespacedName, before.ResourceVersion)
			return
		}
		at := r.now()
		// Only the available Freight changed, and it was written moments
		// ago: write it once the window ends, with whatever else arrives
		// meanwhile. Not after a failed pass: its retry may come later than
		// the window, and controller-runtime ignores a result beside an
		// error.
		if wait := r.written.holdAvailable(req.NamespacedName, before, st, AvailableFreightWindow, at); wait > 0 && err == nil {
			result = shortest(result, ctrl.Result{RequeueAfter: wait})
			return
		}
		// Optimistic lock: the Promotion controller writes this status too
		// (claiming the Stage), and neither may undo the other's phase.
		patchErr := r.Client.Status().Patch(ctx, st, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		switch {
		case patchErr == nil:
			r.memo.wrote(req.NamespacedName, before.ResourceVersion, st.ResourceVersion)
			if !equality.Semantic.DeepEqual(before.Status.AvailableFreight, st.Status.AvailableFreight) {
				r.written.set(req.NamespacedName, at)
			}
		case apierrors.IsNotFound(patchErr):
		case apierrors.IsConflict(patchErr):
			r.memo.forget(req.NamespacedName)
			// The other writer just changed the Stage; its event brings
			// this pass back anyway, so come back soon rather than after
			// the failure back-off (a second at first).
			result = ctrl.Result{RequeueAfter: 50 * time.Millisecond}
		default:
			r.memo.forget(req.NamespacedName)
			err = errors.Join(err, fmt.Errorf("patch status of Stage %s: %w", req.NamespacedName, patchErr))
		}
	}()

	result = ctrl.Result{}
	if subs := st.Spec.Subscriptions; subs != nil && subs.Repos != nil {
		result, err = r.discoverRepos(ctx, st, *subs.Repos)
		if err != nil {
			return result, err
		}
	}

	promos, err := r.promotionsOf(ctx, st)
	if err != nil {
		return ctrl.Result{}, err
	}
	// The project's Freight, straight from the cache and only when needed:
	// availability only reads them, and copying thousands of Freight on
	// every pass would cost more than everything else the pass does.
	epoch := r.memo.epoch(st.Namespace)
	listFreight := sync.OnceValues(func() ([]kargoapi.Freight, error) {
		list := &kargoapi.FreightList{}
		if err := r.Client.List(ctx, list, client.InNamespace(st.Namespace), client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("list Freight: %w", err)
		}
		return list.Items, nil
	})
	now := r.now()
	soakEnd := time.Time{}
	if m, ok := r.memo.lookup(st, epoch, now); ok {
		// Nothing this pass would work out from the Freight has moved: the
		// list is the stored one, or the one whose write waits.
		if !m.settled {
			st.Status.AvailableFreight = slices.Clone(m.available)
		}
		soakEnd = m.soakEnd
	} else {
		items, err := listFreight()
		if err != nil {
			return ctrl.Result{}, err
		}
		st.Status.AvailableFreight = availability.List(st, items, availability.ListedPerOrigin, now)
		if end, soaking := availability.NextSoakEnd(st, items, now); soaking {
			soakEnd = end
		}
		r.memo.store(before, epoch, st.Status.AvailableFreight, soakEnd)
		refreshAliases(st, items)
	}
	// Nothing changes when Freight finishes soaking; look again then.
	if !soakEnd.IsZero() {
		result = shortest(result, ctrl.Result{RequeueAfter: soakEnd.Sub(now) + time.Second})
	}
	// The Promotion controller owns the phase once a Stage has Promotions;
	// two writers of one field would race.
	if st.Status.Phase == "" {
		st.Status.Phase = kargoapi.StagePhaseNotApplicable
	}
	if st.Spec.Subscriptions == nil || st.Spec.Subscriptions.Repos == nil {
		st.Status.ObservedGeneration = st.Generation
		conditions.Ready(&st.Status.Conditions, st.Generation, kargoapi.ReasonReconciled, collection.ReadyMessage(st))
	}
	retry, err := r.autoPromote(ctx, st, listFreight, promos, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if retry > 0 {
		result = shortest(result, ctrl.Result{RequeueAfter: retry})
	}
	if r.Verifier != nil {
		after, err := r.Verifier.Step(ctx, st)
		if err != nil {
			return ctrl.Result{}, err
		}
		result = shortest(result, ctrl.Result{RequeueAfter: after})
	}
	return result, nil
}

// refreshAliases gives the Freight st names (current, history, last and
// running Promotion) the aliases they have now: an alias can be changed,
// and the Stage must not show the old one. Entries recorded before kargo
// recorded origins get their Freight's origin, so that a Stage that
// requests several origins knows which one its earlier Freight fills.
func refreshAliases(st *kargoapi.Stage, all []kargoapi.Freight) {
	named := map[string][]*kargoapi.SimpleFreight{}
	for _, r := range freightRefs(st) {
		named[r.ID] = append(named[r.ID], r)
	}
	for i := range all {
		for _, r := range named[all[i].Name] {
			r.Alias = all[i].Alias
			if r.Origin == nil && all[i].Origin != nil {
				o := *all[i].Origin
				r.Origin = &o
			}
		}
	}
}

// freightRefs are the Freight st's status names: its current Freight, its
// history, and the Freight of its running and last Promotions.
func freightRefs(st *kargoapi.Stage) []*kargoapi.SimpleFreight {
	var refs []*kargoapi.SimpleFreight
	if st.Status.CurrentFreight != nil {
		refs = append(refs, st.Status.CurrentFreight)
	}
	for i := range st.Status.CurrentFreightByOrigin {
		refs = append(refs, &st.Status.CurrentFreightByOrigin[i])
	}
	for i := range st.Status.History {
		refs = append(refs, &st.Status.History[i])
	}
	for _, p := range []*kargoapi.PromotionReference{st.Status.CurrentPromotion, st.Status.LastPromotion} {
		if p != nil && p.Freight != nil {
			refs = append(refs, p.Freight)
		}
	}
	return refs
}

// promotionsOf lists the Promotions of st, oldest first.
func (r *Reconciler) promotionsOf(ctx context.Context, st *kargoapi.Stage) ([]kargoapi.Promotion, error) {
	return index.PromotionsOf(ctx, r.Client, st.Namespace, st.Name)
}

// discoverRepos polls the Stage's own repository subscriptions; the Freight
// they produce names the Stage as its origin, which makes it available here.
func (r *Reconciler) discoverRepos(ctx context.Context, st *kargoapi.Stage, repos kargoapi.RepoSubscriptions) (ctrl.Result, error) {
	f, result, err := r.Poller.Poll(ctx, poll.Subscriber{
		Object:             st,
		Origin:             kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginStage, Name: st.Name},
		Subscriptions:      repos,
		Limit:              discoveryLimit,
		Interval:           pollInterval,
		Refresh:            st.Annotations[kargoapi.RefreshAnnotationKey],
		LastHandledRefresh: &st.Status.LastHandledRefresh,
		Conditions:         &st.Status.Conditions,
		ObservedGeneration: &st.Status.ObservedGeneration,
	})
	if f != nil {
		conditions.Ready(&st.Status.Conditions, st.Generation, kargoapi.ReasonFreightAvailable,
			fmt.Sprintf("Newest Freight from the Stage's own subscriptions is %s (%s)", f.Alias, f.Name))
	}
	return result, err
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// shortest returns whichever result asks to come back sooner.
func shortest(a, b ctrl.Result) ctrl.Result {
	switch {
	case a.RequeueAfter == 0:
		return b
	case b.RequeueAfter == 0 || a.RequeueAfter <= b.RequeueAfter:
		return a
	}
	return b
}
