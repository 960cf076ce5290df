// Package warehouse reconciles Warehouses: it discovers the newest artifact of
// every subscription and produces the Freight that bundles them.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

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
}

// SetupWithManager registers the reconciler. Warehouses are reconciled when
// their spec or refresh annotation changes, and again after each interval.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&kargoapi.Warehouse{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
		))).
		Watches(&kargoapi.Project{}, shard.EnqueueAll(r.Client, func() client.ObjectList { return &kargoapi.WarehouseList{} }),
			builder.WithPredicates(shard.OwnerChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8, RateLimiter: poll.RetryRateLimiter()}).
		Complete(r)
}

// Reconcile discovers the Warehouse's artifacts and produces Freight.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	wh := &kargoapi.Warehouse{}
	if err := r.Client.Get(ctx, req.NamespacedName, wh); err != nil {
		if apierrors.IsNotFound(err) {
			discovery.Forget(req.Namespace, kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: req.Name})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !wh.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if owned, err := r.Shard.Owns(ctx, wh.Namespace); !owned || err != nil {
		return ctrl.Result{}, err
	}
	before := wh.DeepCopy()
	defer func() {
		if equality.Semantic.DeepEqual(before.Status, wh.Status) {
			return
		}
		if patchErr := r.Client.Status().Patch(ctx, wh, client.MergeFrom(before)); patchErr != nil && !apierrors.IsNotFound(patchErr) {
			err = errors.Join(err, fmt.Errorf("patch status of Warehouse %s: %w", req.NamespacedName, patchErr))
		}
	}()

	interval := DefaultInterval
	if wh.Spec.Interval != nil && wh.Spec.Interval.Duration > 0 {
		interval = wh.Spec.Interval.Duration
	}
	var unmet bool
	f, result, err := r.Poller.Poll(ctx, poll.Subscriber{
		Object:             wh,
		Origin:             kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: wh.Name},
		Subscriptions:      wh.Spec.Subscriptions,
		Limit:              int(wh.Spec.DiscoveryLimit),
		Interval:           interval,
		Refresh:            wh.Annotations[kargoapi.RefreshAnnotationKey],
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

// criterion is wh's freightCreationCriteria expression, or "".
func criterion(wh *kargoapi.Warehouse) string {
	if c := wh.Spec.FreightCreationCriteria; c != nil {
		return c.Expression
	}
	return ""
}
