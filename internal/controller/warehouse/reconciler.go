// Package warehouse reconciles Warehouses: it discovers the newest artifact of
// every subscription and produces the Freight that bundles them.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/conditions"
	"github.com/kargohq/kargo/internal/discovery"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/shard"
)

// RefreshAnnotationKey forces an immediate discovery when its value changes.
const RefreshAnnotationKey = "kargo.akuity.io/refresh"

// DefaultInterval is how often a Warehouse polls when its spec does not say;
// the schema fills in the same default.
const DefaultInterval = 5 * time.Minute

// Condition reasons of a Warehouse.
const (
	ReasonDiscovered = "FreightAvailable"
	// ReasonDiscoveredOnly means a Manual Warehouse discovered artifacts
	// and left creating Freight to people.
	ReasonDiscoveredOnly = "ArtifactsDiscovered"
	// ReasonCriteriaNotMet means the newest artifacts did not meet the
	// Warehouse's freightCreationCriteria.
	ReasonCriteriaNotMet = "CriteriaNotMet"
	// ReasonInvalidCriteria means freightCreationCriteria cannot be
	// evaluated.
	ReasonInvalidCriteria = "InvalidCriteria"
)

// Discoverer finds the newest artifacts of a set of subscriptions.
type Discoverer interface {
	Discover(ctx context.Context, req discovery.Request) discovery.Result
}

// FreightProducer creates Freight for a set of artifacts, once.
type FreightProducer interface {
	Produce(ctx context.Context, namespace string, origin kargoapi.FreightOrigin, commits []kargoapi.GitCommit, images []kargoapi.Image, charts []kargoapi.Chart) (*kargoapi.Freight, bool, error)
}

// Reconciler reconciles Warehouses.
type Reconciler struct {
	Client client.Client
	// Poller discovers artifacts and produces Freight; Stages with their
	// own repository subscriptions use the same one.
	Poller *Poller
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
		WithOptions(controller.Options{MaxConcurrentReconciles: 8, RateLimiter: RetryRateLimiter()}).
		Complete(r)
}

// RefreshTime reads the time a refresh token stands for: an RFC 3339 time
// (what the webhook receiver writes: when the push arrived) or Unix seconds
// (what `date +%s` prints); any other token, or a time in the future, means
// now. Listings made after that time are fresh enough for the refresh.
func RefreshTime(token string, now time.Time) time.Time {
	t, err := time.Parse(time.RFC3339Nano, token)
	if err != nil {
		secs, convErr := strconv.ParseInt(token, 10, 64)
		if convErr != nil {
			return now
		}
		t = time.Unix(secs, 0)
	}
	if t.After(now) {
		return now
	}
	return t
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
	f, result, err := r.Poller.Poll(ctx, Subscriber{
		Object:             wh,
		Origin:             kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: wh.Name},
		Subscriptions:      wh.Spec.Subscriptions,
		Limit:              int(wh.Spec.DiscoveryLimit),
		Interval:           interval,
		Refresh:            wh.Annotations[RefreshAnnotationKey],
		LastHandledRefresh: &wh.Status.LastHandledRefresh,
		Conditions:         &wh.Status.Conditions,
		ObservedGeneration: &wh.Status.ObservedGeneration,
		Discovered:         &wh.Status.DiscoveredArtifacts,
		Manual:             wh.Spec.FreightCreationPolicy == kargoapi.FreightCreationManual,
		Criterion:          criterion(wh),
		CriterionUnmet:     &unmet,
	})
	if f == nil && err == nil && unmet {
		conditions.Ready(&wh.Status.Conditions, wh.Generation, ReasonCriteriaNotMet,
			"The newest artifacts do not meet freightCreationCriteria, so no Freight was made of them; status.discoveredArtifacts shows them")
		return result, nil
	}
	if f == nil {
		if err == nil && wh.Spec.FreightCreationPolicy == kargoapi.FreightCreationManual && wh.Status.DiscoveredArtifacts != nil {
			d := wh.Status.DiscoveredArtifacts
			conditions.Ready(&wh.Status.Conditions, wh.Generation, ReasonDiscoveredOnly,
				fmt.Sprintf("Discovered %d commits, %d images and %d chart versions (status.discoveredArtifacts); freightCreationPolicy is Manual, so create Freight from them with kargo create freight --warehouse %s",
					len(d.Commits), len(d.Images), len(d.Charts), wh.Name))
		}
		return result, err
	}
	wh.Status.LastFreight = &kargoapi.FreightReference{Name: f.Name, Alias: f.Alias}
	conditions.Ready(&wh.Status.Conditions, wh.Generation, ReasonDiscovered,
		fmt.Sprintf("Newest Freight is %s (%s): %s", f.Alias, f.Name, Describe(f)))
	return result, nil
}

// RetryRateLimiter spaces the retries of transient failures from 1 s up to
// 5 min, never slower than the default interval.
func RetryRateLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, 5*time.Minute)
}

// RecordFailures sets the conditions that discovery failures call for and
// says when to try again. The message names every failed subscription and
// its cause. A subscription that can never work stalls the subscriber until
// its spec changes; a rate limit waits as long as asked; nothing matching yet
// waits for the next poll; anything else is retried with back-off.
func RecordFailures(conds *[]metav1.Condition, observed *int64, generation int64, s discovery.Summary, requeue ctrl.Result) (ctrl.Result, error) {
	switch {
	case s.Terminal:
		conditions.Stalled(conds, generation, s.Reason, s.Message)
		*observed = generation
		return ctrl.Result{}, reconcile.TerminalError(errors.New(s.Message))
	case s.NoMatch:
		conditions.Retrying(conds, generation, s.Reason, s.Message)
		*observed = generation
		return requeue, nil
	case !s.RetryAt.IsZero():
		conditions.Retrying(conds, generation, s.Reason, s.Message)
		return ctrl.Result{RequeueAfter: time.Until(s.RetryAt)}, nil
	default:
		conditions.Retrying(conds, generation, s.Reason, s.Message)
		return ctrl.Result{}, errors.New(s.Message)
	}
}

// Describe summarises a Freight's artifacts in one line, such as
// "nginx:1.25.0, https://git.example/demo.git@02d153f".
func Describe(f *kargoapi.Freight) string {
	var parts []string
	for _, i := range f.Images {
		parts = append(parts, i.RepoURL+":"+i.Tag)
	}
	for _, c := range f.Commits {
		id := c.ID
		if len(id) > 7 {
			id = id[:7]
		}
		parts = append(parts, c.RepoURL+"@"+id)
	}
	for _, c := range f.Charts {
		name := c.RepoURL
		if c.Name != "" {
			name += "/" + c.Name
		}
		parts = append(parts, name+":"+c.Version)
	}
	return strings.Join(parts, ", ")
}

var _ FreightProducer = (*freight.Producer)(nil)

// criterion is wh's freightCreationCriteria expression, or "".
func criterion(wh *kargoapi.Warehouse) string {
	if c := wh.Spec.FreightCreationCriteria; c != nil {
		return c.Expression
	}
	return ""
}
