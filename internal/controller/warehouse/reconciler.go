// Package warehouse reconciles Warehouses: it discovers the newest artifact of
// every subscription and produces the Freight that bundles them.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/conditions"
	"github.com/kargohq/kargo/internal/controller/poll"
	"github.com/kargohq/kargo/internal/discovery"
	"github.com/kargohq/kargo/internal/shard"
)

// DefaultInterval is how often a Warehouse polls when its spec does not say;
// the schema fills in the same default.
const DefaultInterval = 5 * time.Minute

// Reconciler reconciles Warehouses.
type Reconciler struct {
	Client client.Client
	// Poller discovers artifacts and produces Freight; Stages with their
	// own repository subscriptions use the same one.
	Poller *poll.Poller
	// Shard is the projects this controller set owns; nil owns all.
	Shard *shard.Shard

	// acks holds, per Warehouse, the refresh token a pass acted on
	// without changing anything else, whose status.lastHandledRefresh
	// write was left to a later pass of low priority (ackPriority).
	acks sync.Map
	// hints holds, per Warehouse, the refresh token that the webhook
	// receiver of this process is writing to its annotation (Refresh);
	// events carries the passes Refresh asks for.
	hints  sync.Map
	events chan event.GenericEvent
	// passes holds, per Warehouse, the pass Refresh asked for, whose
	// channel closes once a pass has acted on its token.
	passes sync.Map

	// busy counts the passes under way that are not acknowledgements;
	// acknowledgements wait while there are any.
	busy atomic.Int64
}

// ackRetry is how soon an acknowledgement that waited for busy passes is
// tried again; ackMaxWait is how long it waits at most, so that a
// controller that is never idle still acknowledges.
const (
	ackRetry   = 20 * time.Millisecond
	ackMaxWait = time.Second
)

// ack is a refresh acted on whose acknowledgement is left to a later pass.
type ack struct {
	token string
	since time.Time
}

// ackPriority is the priority of the passes that only record a handled
// refresh. A push that refreshes a hundred Warehouses finds something new
// for one of them; its Freight should not wait behind ninety-nine status
// writes that say "nothing new": those wait until the queue holds no
// Warehouse of normal priority.
const ackPriority = -10

// pendingPass is a pass Refresh asked for.
type pendingPass struct {
	token string
	done  chan struct{}
	once  sync.Once
}

func (p *pendingPass) close() { p.once.Do(func() { close(p.done) }) }

// Refresh asks for a pass of obj, when it is a Warehouse, that acts on the
// refresh token the caller (the webhook receiver, in this process) is about
// to write to its refresh annotation, without waiting for the write to come
// back through the watch: a push that refreshes a hundred Warehouses writes
// a hundred annotations, and the one Warehouse the push changed should not
// wait for its turn among them. The returned channel closes once a pass has
// acted on the token (its Freight and status written, or its
// acknowledgement left to a later pass), so that the caller can write the
// annotations after the passes rather than during them; it is nil for
// objects this reconciler does not refresh. The annotation stays the record
// of the request: when this process stops before acting, the next one acts
// on it.
func (r *Reconciler) Refresh(obj client.Object, token string) <-chan struct{} {
	if _, ok := obj.(*kargoapi.Warehouse); !ok || r.events == nil {
		return nil
	}
	key := client.ObjectKeyFromObject(obj)
	r.hints.Store(key, token)
	p := &pendingPass{token: token, done: make(chan struct{})}
	if old, loaded := r.passes.Swap(key, p); loaded {
		old.(*pendingPass).close()
	}
	select {
	case r.events <- event.GenericEvent{Object: obj}:
	default:
		// The annotation brings the pass instead.
		r.passes.CompareAndDelete(key, p)
		p.close()
	}
	return p.done
}

// passDone tells whoever waits for a pass of key that acts on token that
// it has ended.
func (r *Reconciler) passDone(key client.ObjectKey, token string) {
	if v, ok := r.passes.Load(key); ok && v.(*pendingPass).token == token {
		r.passes.CompareAndDelete(key, v)
		v.(*pendingPass).close()
	}
}

// passGone tells whoever waits for a pass of key that none will act: the
// Warehouse is gone, or another controller set owns it.
func (r *Reconciler) passGone(key client.ObjectKey) {
	if v, ok := r.passes.LoadAndDelete(key); ok {
		v.(*pendingPass).close()
	}
}

// refreshToken is the newest refresh token of wh: its annotation's, or
// one that Refresh was told of and that the annotation does not show yet.
func (r *Reconciler) refreshToken(wh *kargoapi.Warehouse) string {
	key := client.ObjectKeyFromObject(wh)
	token := wh.Annotations[kargoapi.RefreshAnnotationKey]
	hint, ok := r.hints.Load(key)
	if !ok {
		return token
	}
	h := hint.(string)
	now := time.Now()
	if token == "" || (h != token && poll.RefreshTime(h, now).After(poll.RefreshTime(token, now))) {
		return h
	}
	// The annotation has caught up, or holds a newer request.
	r.hints.CompareAndDelete(key, hint)
	return token
}

// SetupWithManager registers the reconciler. Warehouses are reconciled when
// their spec or refresh annotation changes, when Refresh asks, and again
// after each interval.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.events = make(chan event.GenericEvent, 1024)
	return ctrl.NewControllerManagedBy(mgr).
		For(&kargoapi.Warehouse{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
		))).
		Watches(&kargoapi.Project{}, shard.EnqueueAll(r.Client, func() client.ObjectList { return &kargoapi.WarehouseList{} }),
			builder.WithPredicates(shard.OwnerChanged())).
		WatchesRawSource(source.Channel(r.events, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8, RateLimiter: poll.RetryRateLimiter()}).
		Complete(r)
}

// Reconcile discovers the Warehouse's artifacts and produces Freight.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	wh := &kargoapi.Warehouse{}
	if err := r.Client.Get(ctx, req.NamespacedName, wh); err != nil {
		if apierrors.IsNotFound(err) {
			r.acks.Delete(req.NamespacedName)
			r.hints.Delete(req.NamespacedName)
			r.passGone(req.NamespacedName)
			discovery.Forget(req.Namespace, kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: req.Name})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !wh.DeletionTimestamp.IsZero() {
		r.passGone(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if owned, err := r.Shard.Owns(ctx, wh.Namespace); !owned || err != nil {
		r.passGone(req.NamespacedName)
		return ctrl.Result{}, err
	}
	interval := DefaultInterval
	if wh.Spec.Interval != nil && wh.Spec.Interval.Duration > 0 {
		interval = wh.Spec.Interval.Duration
	}
	token := r.refreshToken(wh)
	if v, ok := r.acks.LoadAndDelete(req.NamespacedName); ok && v.(ack).token == token && wh.Status.LastHandledRefresh != token {
		// The last pass acted on this refresh and found nothing to
		// write but the acknowledgement, which waits until no other
		// pass is under way (ackMaxWait at most): their Freight and
		// status go first.
		if r.busy.Load() > 0 && time.Since(v.(ack).since) < ackMaxWait {
			r.acks.Store(req.NamespacedName, v)
			return ctrl.Result{RequeueAfter: ackRetry, Priority: ptr.To(ackPriority)}, nil
		}
		before := wh.DeepCopy()
		wh.Status.LastHandledRefresh = token
		if err := r.Client.Status().Patch(ctx, wh, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("patch status of Warehouse %s: %w", req.NamespacedName, err))
		}
		return ctrl.Result{RequeueAfter: interval}, nil
	}
	r.busy.Add(1)
	defer r.busy.Add(-1)
	// Deferred before the status write, so it runs after it.
	defer r.passDone(req.NamespacedName, token)
	before := wh.DeepCopy()
	defer func() {
		if equality.Semantic.DeepEqual(before.Status, wh.Status) {
			return
		}
		if err == nil && onlyAcknowledges(before.Status, wh.Status) {
			r.acks.Store(req.NamespacedName, ack{token: token, since: time.Now()})
			result = ctrl.Result{RequeueAfter: time.Nanosecond, Priority: ptr.To(ackPriority)}
			return
		}
		if patchErr := r.Client.Status().Patch(ctx, wh, client.MergeFrom(before)); patchErr != nil && !apierrors.IsNotFound(patchErr) {
			err = errors.Join(err, fmt.Errorf("patch status of Warehouse %s: %w", req.NamespacedName, patchErr))
		}
	}()

	var unmet bool
	f, result, err := r.Poller.Poll(ctx, poll.Subscriber{
		Object:             wh,
		Origin:             kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: wh.Name},
		Subscriptions:      wh.Spec.Subscriptions,
		Limit:              int(wh.Spec.DiscoveryLimit),
		Interval:           interval,
		Refresh:            token,
		LastHandledRefresh: &wh.Status.LastHandledRefresh,
		Conditions:         &wh.Status.Conditions,
		ObservedGeneration: &wh.Status.ObservedGeneration,
		Discovered:         &wh.Status.DiscoveredArtifacts,
		Manual:             wh.Spec.FreightCreationPolicy == kargoapi.FreightCreationManual,
		Criterion:          criterion(wh),
		CriterionUnmet:     &unmet,
	})
	if f == nil && err == nil && unmet {
		conditions.Ready(&wh.Status.Conditions, wh.Generation, kargoapi.ReasonCriteriaNotMet,
			"The newest artifacts do not meet freightCreationCriteria, so no Freight was made of them; status.discoveredArtifacts shows them")
		return result, nil
	}
	if f == nil {
		if err == nil && wh.Spec.FreightCreationPolicy == kargoapi.FreightCreationManual && wh.Status.DiscoveredArtifacts != nil {
			d := wh.Status.DiscoveredArtifacts
			conditions.Ready(&wh.Status.Conditions, wh.Generation, kargoapi.ReasonArtifactsDiscovered,
				fmt.Sprintf("Discovered %d commits, %d images and %d chart versions (status.discoveredArtifacts); freightCreationPolicy is Manual, so create Freight from them with kargo create freight --warehouse %s",
					len(d.Commits), len(d.Images), len(d.Charts), wh.Name))
		}
		return result, err
	}
	wh.Status.LastFreight = &kargoapi.FreightReference{Name: f.Name, Alias: f.Alias}
	conditions.Ready(&wh.Status.Conditions, wh.Generation, kargoapi.ReasonFreightAvailable,
		fmt.Sprintf("Newest Freight is %s (%s): %s", f.Alias, f.Name, poll.Describe(f)))
	return result, nil
}

// onlyAcknowledges says whether after differs from before in
// lastHandledRefresh alone.
func onlyAcknowledges(before, after kargoapi.WarehouseStatus) bool {
	before.LastHandledRefresh = after.LastHandledRefresh
	return equality.Semantic.DeepEqual(before, after)
}

// criterion is wh's freightCreationCriteria expression, or "".
func criterion(wh *kargoapi.Warehouse) string {
	if c := wh.Spec.FreightCreationCriteria; c != nil {
		return c.Expression
	}
	return ""
}
