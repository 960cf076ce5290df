package warehouse

import (
	"context"
	"math/rand/v2"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
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
		if !conditionFalse(*s.Conditions, kargoapi.ConditionReady) {
			p.Recorder.Eventf(s.Object, nil, "Warning", sum.Reason, "Discover", "%s", sum.Message)
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
			conditions.Stalled(s.Conditions, generation, ReasonInvalidCriteria, err.Error())
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
		conditions.Retrying(s.Conditions, generation, "FreightCreationFailed", err.Error())
		return nil, ctrl.Result{}, err
	}
	if created {
		p.Recorder.Eventf(s.Object, f, "Normal", "FreightCreated", "Produce",
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
