// Package poll discovers the artifacts of a subscriber (a Warehouse, or a
// Stage with repository subscriptions of its own) and produces the Freight
// that bundles them. The Warehouse and Stage reconcilers share one Poller.
package poll

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/conditions"
	"github.com/kargohq/kargo/internal/discovery"
	"github.com/kargohq/kargo/internal/freight"
)

// Subscriber is what polls repositories and produces Freight: a Warehouse,
// or a Stage with its own repository subscriptions. Its status fields are
// reached through pointers so one Poll serves both kinds.
type Subscriber struct {
	// Object receives events.
	Object client.Object
	// Origin is recorded in the Freight produced.
	Origin        kargoapi.FreightOrigin
	Subscriptions kargoapi.RepoSubscriptions
	Limit         int
	Interval      time.Duration
	// Refresh is the refresh annotation's value; LastHandledRefresh the one
	// last acted on, updated when this poll acts on Refresh.
	Refresh            string
	LastHandledRefresh *string
	Conditions         *[]metav1.Condition
	ObservedGeneration *int64
	// Discovered, when set, receives what discovery found (a Warehouse's
	// status.discoveredArtifacts); it is replaced only when that changes,
	// so an idle Warehouse writes nothing.
	Discovered **kargoapi.DiscoveredArtifacts
	// Manual says the subscriber only discovers: Poll produces no
	// Freight (freightCreationPolicy Manual).
	Manual bool
	// Criterion, when not empty, is the freightCreationCriteria
	// expression a new combination of artifacts must meet to become
	// Freight.
	Criterion string
	// CriterionUnmet, when set, is told whether the newest artifacts were
	// left without Freight because they did not meet Criterion.
	CriterionUnmet *bool
}

// Poller discovers a subscriber's artifacts and produces their Freight.
type Poller struct {
	Discoverer Discoverer
	Producer   FreightProducer
	Recorder   events.EventRecorder
	// Jitter returns a fraction of the interval to add to each requeue, so
	// that subscribers do not poll in lockstep; a random one in [0, 0.1)
	// when nil.
	Jitter func() float64
}

// Poll asks every subscription for its newest artifact and returns the
// Freight that bundles them (created if new), and when to poll again. When a
// subscription fails it returns no Freight, sets the conditions the failure
// calls for and emits a warning event if the subscriber was ready; nothing
// is lost.
func (p *Poller) Poll(ctx context.Context, s Subscriber) (*kargoapi.Freight, ctrl.Result, error) {
	generation := s.Object.GetGeneration()
	var changedAt time.Time
	if s.Refresh != "" && s.Refresh != *s.LastHandledRefresh {
		changedAt = RefreshTime(s.Refresh, time.Now())
	}
	found := p.Discoverer.Discover(ctx, discovery.Request{
		Namespace:     s.Object.GetNamespace(),
		Origin:        s.Origin,
		Subscriptions: s.Subscriptions,
		Limit:         s.Limit,
		MaxAge:        s.Interval,
		ChangedAt:     changedAt,
	})
	if !changedAt.IsZero() {
		*s.LastHandledRefresh = s.Refresh
	}
	jitter := rand.Float64() * 0.1
	if p.Jitter != nil {
		jitter = p.Jitter()
	}
	requeue := ctrl.Result{RequeueAfter: s.Interval + time.Duration(jitter*float64(s.Interval))}

	if len(found.Failures) > 0 {
		sum := discovery.Summarize(found.Failures)
		// Status and events say this too; the log keeps each failure with
		// its subscriber, for an operator following one source's outages.
		ctrl.LoggerFrom(ctx).V(1).Info("discovery failed", "reason", sum.Reason, "terminal", sum.Terminal, "message", sum.Message)
		if !conditionFalse(*s.Conditions, kargoapi.ConditionReady) {
			p.Recorder.Eventf(s.Object, nil, corev1.EventTypeWarning, sum.Reason, "Discover", "%s", sum.Message)
		}
		res, err := RecordFailures(s.Conditions, s.ObservedGeneration, generation, sum, requeue)
		return nil, res, err
	}

	if s.Discovered != nil {
		recordDiscovered(s.Discovered, found.Candidates, time.Now())
	}
	if s.Manual {
		*s.ObservedGeneration = generation
		return nil, requeue, nil
	}
	if s.Criterion != "" {
		allowed, err := meetsCriterion(s.Criterion, found)
		if err != nil {
			conditions.Stalled(s.Conditions, generation, kargoapi.ReasonInvalidCriteria, err.Error())
			*s.ObservedGeneration = generation
			return nil, ctrl.Result{}, reconcile.TerminalError(err)
		}
		if s.CriterionUnmet != nil {
			*s.CriterionUnmet = !allowed
		}
		if !allowed {
			*s.ObservedGeneration = generation
			return nil, requeue, nil
		}
	}
	f, created, err := p.Producer.Produce(ctx, s.Object.GetNamespace(), s.Origin, found.Commits, found.Images, found.Charts)
	if err != nil {
		conditions.Retrying(s.Conditions, generation, kargoapi.ReasonFreightCreationFailed, err.Error())
		return nil, ctrl.Result{}, err
	}
	if created {
		ctrl.LoggerFrom(ctx).Info("freight created", "freight", f.Name, "alias", f.Alias, "artifacts", Describe(f))
		p.Recorder.Eventf(s.Object, f, corev1.EventTypeNormal, "FreightCreated", "Produce",
			"Created Freight %s (%s): %s", f.Alias, f.Name, Describe(f))
	}
	*s.ObservedGeneration = generation
	return f, requeue, nil
}

func conditionFalse(conds []metav1.Condition, t string) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == metav1.ConditionFalse
		}
	}
	return false
}

// recordDiscovered replaces *into with found, stamped at now, unless it
// holds the same artifacts already.
func recordDiscovered(into **kargoapi.DiscoveredArtifacts, found kargoapi.DiscoveredArtifacts, now time.Time) {
	if cur := *into; cur != nil {
		same := *cur
		same.DiscoveredAt = nil
		if equality.Semantic.DeepEqual(same, found) {
			return
		}
	}
	at := metav1.NewTime(now)
	found.DiscoveredAt = &at
	*into = &found
}

// meetsCriterion says whether what discovery found meets a
// freightCreationCriteria expression.
func meetsCriterion(expression string, found discovery.Result) (bool, error) {
	c, err := freight.CompileCriterion(expression)
	if err != nil {
		return false, err
	}
	return c.Allows(found.Commits, found.Images, found.Charts)
}

// Discoverer finds the newest artifacts of a set of subscriptions.
type Discoverer interface {
	Discover(ctx context.Context, req discovery.Request) discovery.Result
}

// FreightProducer creates Freight for a set of artifacts, once.
type FreightProducer interface {
	Produce(ctx context.Context, namespace string, origin kargoapi.FreightOrigin, commits []kargoapi.GitCommit, images []kargoapi.Image, charts []kargoapi.Chart) (*kargoapi.Freight, bool, error)
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
