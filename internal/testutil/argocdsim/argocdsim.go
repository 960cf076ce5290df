// Package argocdsim plays Argo CD's part for tests: it carries out the sync
// operations kargo puts on Applications and reports sync and health status
// as each test tells it to, so that tests can drive kargo through healthy,
// degraded, slow and wrong syncs without running Argo CD.
package argocdsim

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
)

// refreshAnnotationKey is the annotation Argo CD removes once it has
// refreshed an Application.
const refreshAnnotationKey = "argocd.argoproj.io/refresh"

// Behaviour is how the simulated Argo CD treats one Application.
type Behaviour struct {
	// Health is reported once a sync ends. Empty means Healthy.
	Health argocdv1.HealthStatusCode
	// Message is reported with Health.
	Message string
	// SyncTo, when set, is reported as the synced revision (of every source)
	// instead of the one the operation asked for, as when Argo CD syncs
	// something other than what was promoted.
	SyncTo string
	// Hold leaves every sync Running, and the Application Progressing, until
	// the behaviour changes. As with a real running sync, kargo's Updater
	// refuses to change the Application meanwhile.
	Hold bool
}

// Sim is a simulated Argo CD application controller. Its zero value, with
// Client set, handles every Application healthily.
type Sim struct {
	// Client reads and writes Applications. Like Argo CD, the simulator
	// writes status with ordinary updates: the CRD has no status
	// subresource.
	Client client.Client
	// Namespace limits the simulator to one namespace; empty means all, which
	// suits tests that do not run in parallel.
	Namespace string

	mu         sync.Mutex
	behaviours map[client.ObjectKey]Behaviour
}

// SetBehaviour sets how the Application namespace/name is treated from the
// next pass on, including for a sync that has already ended.
func (s *Sim) SetBehaviour(namespace, name string, b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.behaviours == nil {
		s.behaviours = map[client.ObjectKey]Behaviour{}
	}
	s.behaviours[client.ObjectKey{Namespace: namespace, Name: name}] = b
}

func (s *Sim) behaviour(key client.ObjectKey) Behaviour {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.behaviours[key]
	if b.Health == "" {
		b.Health = argocdv1.HealthStatusHealthy
	}
	return b
}

// Start runs the simulator until the test ends, reporting errors of a pass
// other than write conflicts (which the next pass resolves) through
// t.Errorf.
func (s *Sim) Start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx, func(err error) { t.Errorf("argocdsim: %v", err) })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func (s *Sim) run(ctx context.Context, onError func(error)) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := s.Step(ctx); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Step makes one pass over the Applications, moving each one step on: a
// requested operation starts Running; a Running one, unless held, ends
// Succeeded with sync and health status set from the Application's
// Behaviour; an ended one has its status brought in line with a Behaviour
// changed since. An Application whose status is already right is not
// written.
func (s *Sim) Step(ctx context.Context) error {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(argocdv1.GroupVersion.WithKind("ApplicationList"))
	var opts []client.ListOption
	if s.Namespace != "" {
		opts = append(opts, client.InNamespace(s.Namespace))
	}
	if err := s.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	var errs []error
	for i := range list.Items {
		app := &list.Items[i]
		before := app.DeepCopy()
		s.advance(app.Object, s.behaviour(client.ObjectKeyFromObject(app)))
		if reflect.DeepEqual(before.Object, app.Object) {
			continue
		}
		if err := s.Client.Update(ctx, app); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// advance edits one Application's JSON document in place, leaving every
// field it does not deal with as it is.
func (s *Sim) advance(doc map[string]any, b Behaviour) {
	now := time.Now().UTC().Format(time.RFC3339)
	status := object(doc, "status")
	if op, ok := doc["operation"].(map[string]any); ok {
		delete(doc, "operation")
		if meta, ok := doc["metadata"].(map[string]any); ok {
			if ann, ok := meta["annotations"].(map[string]any); ok {
				delete(ann, refreshAnnotationKey)
			}
		}
		status["operationState"] = map[string]any{
			"phase":     string(argocdv1.OperationRunning),
			"startedAt": now,
			"operation": op,
		}
		setHealth(status, argocdv1.HealthStatusProgressing, "")
		return
	}
	state, ok := status["operationState"].(map[string]any)
	if !ok {
		return // never synced: Argo CD has nothing to report either
	}
	switch state["phase"] {
	case string(argocdv1.OperationRunning):
		if b.Hold {
			return
		}
		state["phase"] = string(argocdv1.OperationSucceeded)
		state["message"] = "successfully synced (all tasks run)"
		state["finishedAt"] = now
	case string(argocdv1.OperationSucceeded):
	default:
		return
	}
	op, _ := state["operation"].(map[string]any)
	sync := object(status, "sync")
	sync["status"] = string(argocdv1.SyncStatusSynced)
	setRevisions(doc, sync, op, b.SyncTo)
	setHealth(status, b.Health, b.Message)
}

func setHealth(status map[string]any, h argocdv1.HealthStatusCode, msg string) {
	health := object(status, "health")
	health["status"] = string(h)
	if msg == "" {
		delete(health, "message")
	} else {
		health["message"] = msg
	}
}

// setRevisions reports as synced the revisions the operation asked for, or
// the sources' targetRevisions where it asked for none, or override.
func setRevisions(doc, sync, op map[string]any, override string) {
	opSync, _ := op["sync"].(map[string]any)
	spec, _ := doc["spec"].(map[string]any)
	if sources, ok := spec["sources"].([]any); ok && len(sources) > 0 {
		asked, _ := opSync["revisions"].([]any)
		revs := make([]any, len(sources))
		for i, src := range sources {
			rev := override
			if rev == "" && i < len(asked) {
				rev, _ = asked[i].(string)
			}
			if rev == "" {
				m, _ := src.(map[string]any)
				rev, _ = m["targetRevision"].(string)
			}
			revs[i] = rev
		}
		sync["revisions"] = revs
		return
	}
	rev := override
	if rev == "" {
		rev, _ = opSync["revision"].(string)
	}
	if rev == "" {
		src, _ := spec["source"].(map[string]any)
		rev, _ = src["targetRevision"].(string)
	}
	sync["revision"] = rev
}

// object returns m[key] as an object, creating it when absent.
func object(m map[string]any, key string) map[string]any {
	if o, ok := m[key].(map[string]any); ok {
		return o
	}
	o := map[string]any{}
	m[key] = o
	return o
}
