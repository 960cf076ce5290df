package gc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/shard"
)

// Event reasons of garbage collection.
const (
	// ReasonGarbageCollected is on a Warehouse or Stage whose old Freight or
	// Promotions were deleted.
	ReasonGarbageCollected = "GarbageCollected"
	// ReasonInvalidRetention is on a Project whose keep annotation is not a
	// positive integer.
	ReasonInvalidRetention = "InvalidRetention"
)

// Collector deletes old Freight and Promotions of every project every
// Interval, on the elected leader only.
type Collector struct {
	// Client reads and deletes; it may be the manager's cached client.
	Client client.Client
	// Recorder records what was deleted, on the Warehouse or Stage.
	Recorder events.EventRecorder
	// Policy is the installation's policy; Projects may override it.
	Policy Policy
	// Interval is the time between two passes.
	Interval time.Duration
	// Shard is the projects this controller set owns, the only ones it
	// collects in; nil owns all.
	Shard *shard.Shard
}

// NeedLeaderElection makes the collector run on the leader only, so that
// two replicas never delete the same objects.
func (c *Collector) NeedLeaderElection() bool { return true }

// Start runs a pass every Interval (with up to a tenth of jitter) until ctx
// is done. A pass that fails is logged and retried at the next one.
func (c *Collector) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("gc")
	for {
		wait := c.Interval + rand.N(c.Interval/10+1)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		start := time.Now()
		r, err := c.Collect(ctx)
		passDuration.Observe(time.Since(start).Seconds())
		if err != nil {
			passes.WithLabelValues("error").Inc()
			log.Error(err, "garbage collection pass failed")
			continue
		}
		passes.WithLabelValues("success").Inc()
		if r.Freight > 0 || r.Promotions > 0 {
			log.Info("garbage collected", "freight", r.Freight, "promotions", r.Promotions, "took", time.Since(start).String())
		}
	}
}

// Result counts what one pass deleted.
type Result struct {
	Freight, Promotions int
}

// Collect runs one pass over every project.
func (c *Collector) Collect(ctx context.Context) (Result, error) {
	projects := &kargoapi.ProjectList{}
	if err := c.Client.List(ctx, projects); err != nil {
		return Result{}, fmt.Errorf("list Projects: %w", err)
	}
	var total Result
	var errs []error
	for i := range projects.Items {
		p := &projects.Items[i]
		if p.DeletionTimestamp != nil || !c.Shard.OwnsProject(p) {
			continue
		}
		r, err := c.CollectProject(ctx, p)
		total.Freight += r.Freight
		total.Promotions += r.Promotions
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

// CollectProject runs one pass over one project.
func (c *Collector) CollectProject(ctx context.Context, project *kargoapi.Project) (Result, error) {
	ns := project.Name
	policy, invalid := c.Policy.ForProject(project)
	if len(invalid) > 0 && c.Recorder != nil {
		c.Recorder.Eventf(project, nil, corev1.EventTypeWarning, ReasonInvalidRetention, "GarbageCollect",
			"%s must be a positive integer; the installation's default applies", strings.Join(invalid, " and "))
	}
	stages := &kargoapi.StageList{}
	if err := c.Client.List(ctx, stages, client.InNamespace(ns)); err != nil {
		return Result{}, fmt.Errorf("list Stages in %s: %w", ns, err)
	}
	promotions := &kargoapi.PromotionList{}
	if err := c.Client.List(ctx, promotions, client.InNamespace(ns)); err != nil {
		return Result{}, fmt.Errorf("list Promotions in %s: %w", ns, err)
	}
	freights := &kargoapi.FreightList{}
	if err := c.Client.List(ctx, freights, client.InNamespace(ns)); err != nil {
		return Result{}, fmt.Errorf("list Freight in %s: %w", ns, err)
	}
	var r Result
	var errs []error

	inUse := FreightInUse(stages.Items, promotions.Items, freights.Items)
	freightGroups := FreightToDelete(freights.Items, inUse, policy.KeepFreight)
	for _, origin := range slices.Sorted(maps.Keys(freightGroups)) {
		names := freightGroups[origin]
		n, err := c.deleteAll(ctx, ns, names, func(name string) client.Object {
			return &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		})
		r.Freight += n
		deleted.WithLabelValues("Freight").Add(float64(n))
		errs = append(errs, err)
		if n > 0 {
			c.event(ctx, ns, origin, n, "Freight", policy.KeepFreight)
		}
	}
	promotionGroups := PromotionsToDelete(promotions.Items, policy.KeepPromotions)
	for _, stage := range slices.Sorted(maps.Keys(promotionGroups)) {
		names := promotionGroups[stage]
		n, err := c.deleteAll(ctx, ns, names, func(name string) client.Object {
			return &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		})
		r.Promotions += n
		deleted.WithLabelValues("Promotion").Add(float64(n))
		errs = append(errs, err)
		if n > 0 {
			c.event(ctx, ns, "Stage/"+stage, n, "Promotions", policy.KeepPromotions)
		}
	}
	return r, errors.Join(errs...)
}

// deleteConcurrency bounds the deletions in flight: each passes kargo's
// admission check, which reads the project's Stages and Promotions.
const deleteConcurrency = 8

// deleteAll deletes the named objects, a few at a time. One that is gone
// already, or that admission refuses because it came into use since the
// list (a Promotion started moving the Freight), is skipped.
func (c *Collector) deleteAll(ctx context.Context, ns string, names []string, obj func(string) client.Object) (int, error) {
	var (
		mu   sync.Mutex
		n    int
		errs []error
		wg   sync.WaitGroup
	)
	slots := make(chan struct{}, deleteConcurrency)
	for _, name := range names {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			err := c.Client.Delete(ctx, obj(name))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				n++
			case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			default:
				errs = append(errs, fmt.Errorf("delete %s in %s: %w", name, ns, err))
			}
		}()
	}
	wg.Wait()
	return n, errors.Join(errs...)
}

// event records a deletion on the Warehouse or Stage the objects belonged
// to ("Warehouse/name" or "Stage/name"), when it still exists.
func (c *Collector) event(ctx context.Context, ns, owner string, n int, what string, keep int) {
	if c.Recorder == nil {
		return
	}
	kind, name, _ := strings.Cut(owner, "/")
	var obj client.Object
	switch kargoapi.FreightOriginKind(kind) {
	case kargoapi.FreightOriginWarehouse:
		obj = &kargoapi.Warehouse{}
	case kargoapi.FreightOriginStage:
		obj = &kargoapi.Stage{}
	default:
		return
	}
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		return
	}
	c.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, ReasonGarbageCollected, "GarbageCollect",
		"Deleted %d %s beyond the newest %d that are kept (and any in use)", n, what, keep)
}
