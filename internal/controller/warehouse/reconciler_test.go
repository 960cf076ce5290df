package warehouse

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/poll"
	"github.com/kargohq/kargo/internal/discovery"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// fakeDiscoverer returns a fixed result and records requests.
type fakeDiscoverer struct {
	mu       sync.Mutex
	result   discovery.Result
	requests []discovery.Request
}

func (f *fakeDiscoverer) Discover(_ context.Context, req discovery.Request) discovery.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	return f.result
}

type harness struct {
	r             *Reconciler
	c             client.Client
	disc          *fakeDiscoverer
	statusWrites  int
	events        *events.FakeRecorder
	warehouseName types.NamespacedName
}

func newHarness(t *testing.T, wh *kargoapi.Warehouse) *harness {
	t.Helper()
	s, err := scheme.New()
	require.NoError(t, err)
	h := &harness{disc: &fakeDiscoverer{}, events: events.NewFakeRecorder(20)}
	h.c = fake.NewClientBuilder().WithScheme(s).WithObjects(wh).WithStatusSubresource(wh).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				h.statusWrites++
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
		}).Build()
	h.r = &Reconciler{
		Client: h.c,
		Poller: &poll.Poller{
			Discoverer: h.disc,
			Producer:   &freight.Producer{Client: h.c, Reader: h.c},
			Recorder:   h.events,
			Jitter:     func() float64 { return 0.05 },
		},
	}
	h.warehouseName = client.ObjectKeyFromObject(wh)
	return h
}

func (h *harness) reconcile(t *testing.T) (ctrl.Result, error) {
	t.Helper()
	return h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: h.warehouseName})
}

func (h *harness) warehouse(t *testing.T) *kargoapi.Warehouse {
	t.Helper()
	wh := &kargoapi.Warehouse{}
	require.NoError(t, h.c.Get(context.Background(), h.warehouseName, wh))
	return wh
}

func newWarehouse() *kargoapi.Warehouse {
	return &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "kargo-demo", Namespace: "kargo-demo", Generation: 1},
		Spec: kargoapi.WarehouseSpec{
			Interval:       &metav1.Duration{Duration: 5 * time.Minute},
			DiscoveryLimit: 20,
			Subscriptions:  kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: "nginx"}}},
		},
	}
}

var nginx = kargoapi.Image{RepoURL: "nginx", Tag: "1.25.0", Digest: "sha256:aa"}

func TestNewArtifactsProduceFreightOnce(t *testing.T) {
	h := newHarness(t, newWarehouse())
	h.disc.result = discovery.Result{Images: []kargoapi.Image{nginx}}

	res, err := h.reconcile(t)
	require.NoError(t, err)
	require.Equal(t, 5*time.Minute+15*time.Second, res.RequeueAfter, "interval plus jitter")

	list := &kargoapi.FreightList{}
	require.NoError(t, h.c.List(context.Background(), list))
	require.Len(t, list.Items, 1)
	f := list.Items[0]
	require.Equal(t, freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "kargo-demo"}, nil, []kargoapi.Image{nginx}, nil), f.Name)
	require.Equal(t, f.Alias, f.Labels[kargoapi.AliasLabelKey])
	require.Equal(t, &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "kargo-demo"}, f.Origin)

	wh := h.warehouse(t)
	require.Equal(t, &kargoapi.FreightReference{Name: f.Name, Alias: f.Alias}, wh.Status.LastFreight)
	require.True(t, meta.IsStatusConditionTrue(wh.Status.Conditions, kargoapi.ConditionReady))
	require.EqualValues(t, 1, wh.Status.ObservedGeneration)
	require.Equal(t, 1, h.statusWrites)
	require.Contains(t, <-h.events.Events, "FreightCreated")

	// The same artifacts again: no new Freight, no status write, no event.
	_, err = h.reconcile(t)
	require.NoError(t, err)
	require.NoError(t, h.c.List(context.Background(), list))
	require.Len(t, list.Items, 1)
	require.Equal(t, 1, h.statusWrites, "an idle Warehouse makes no writes")
	require.Empty(t, h.events.Events)
}

func TestFailuresSetConditionsAndKeepFreight(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		wantReason  string
		wantStalled bool
		wantErr     bool
		wantRequeue time.Duration
	}{
		{name: "unreachable", err: fmt.Errorf("ls-remote https://git.example/x.git: %w", sourceerr.ErrUnreachable), wantReason: "Unreachable", wantErr: true},
		{name: "bad password", err: fmt.Errorf("list tags: %w", sourceerr.ErrUnauthorized), wantReason: "AuthenticationFailed", wantErr: true},
		{name: "invalid", err: fmt.Errorf("allowTags: %w", sourceerr.ErrInvalid), wantReason: "InvalidSubscription", wantStalled: true, wantErr: true},
		{name: "no match", err: fmt.Errorf("no tag satisfies ^9.0.0: %w", sourceerr.ErrNoMatch), wantReason: "NoMatch", wantRequeue: 5*time.Minute + 15*time.Second},
		{name: "rate limited", err: &sourceerr.RateLimitedError{Host: "registry.example", RetryAfter: time.Now().Add(time.Minute)}, wantReason: "RateLimited"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newWarehouse())
			h.disc.result = discovery.Result{Images: []kargoapi.Image{nginx}}
			_, err := h.reconcile(t)
			require.NoError(t, err)
			<-h.events.Events

			h.disc.result = discovery.Result{Failures: []discovery.Failure{{Subscription: "image nginx", Err: tc.err}}}
			res, err := h.reconcile(t)
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.wantStalled, errors.Is(err, reconcile.TerminalError(nil)))
			if tc.wantRequeue > 0 {
				require.Equal(t, tc.wantRequeue, res.RequeueAfter)
			}
			if tc.name == "rate limited" {
				require.InDelta(t, time.Minute, res.RequeueAfter, float64(2*time.Second))
			}

			wh := h.warehouse(t)
			ready := meta.FindStatusCondition(wh.Status.Conditions, kargoapi.ConditionReady)
			require.Equal(t, metav1.ConditionFalse, ready.Status)
			require.Equal(t, tc.wantReason, ready.Reason)
			require.Contains(t, ready.Message, "image nginx: ")
			require.Equal(t, tc.wantStalled, meta.IsStatusConditionTrue(wh.Status.Conditions, kargoapi.ConditionStalled))
			require.Equal(t, !tc.wantStalled, meta.IsStatusConditionTrue(wh.Status.Conditions, kargoapi.ConditionReconciling))
			require.NotNil(t, wh.Status.LastFreight, "earlier Freight is still recorded")
			require.Contains(t, <-h.events.Events, "Warning "+tc.wantReason)

			list := &kargoapi.FreightList{}
			require.NoError(t, h.c.List(context.Background(), list))
			require.Len(t, list.Items, 1, "a failure loses no Freight")
		})
	}
}

func TestRefreshAnnotationForcesDiscoveryOnce(t *testing.T) {
	wh := newWarehouse()
	wh.Annotations = map[string]string{kargoapi.RefreshAnnotationKey: "2026-11-21T19:00:00Z"}
	h := newHarness(t, wh)
	h.disc.result = discovery.Result{Images: []kargoapi.Image{nginx}}
	_, err := h.reconcile(t)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 11, 21, 19, 0, 0, 0, time.UTC), h.disc.requests[0].ChangedAt)
	require.Equal(t, "2026-11-21T19:00:00Z", h.warehouse(t).Status.LastHandledRefresh)

	_, err = h.reconcile(t)
	require.NoError(t, err)
	require.True(t, h.disc.requests[1].ChangedAt.IsZero(), "a handled refresh is not repeated")
	require.Equal(t, 5*time.Minute, h.disc.requests[1].MaxAge)
	require.Equal(t, 20, h.disc.requests[1].Limit)
}

// A refresh that finds nothing new leaves its acknowledgement to a pass of
// low priority, so that the Warehouses a push did change are written first.
func TestRefreshFindingNothingNewIsAcknowledgedLater(t *testing.T) {
	h := newHarness(t, newWarehouse())
	h.disc.result = discovery.Result{Images: []kargoapi.Image{nginx}}
	_, err := h.reconcile(t)
	require.NoError(t, err)
	writes := h.statusWrites

	wh := h.warehouse(t)
	wh.Annotations = map[string]string{kargoapi.RefreshAnnotationKey: "2026-11-21T19:00:00Z"}
	require.NoError(t, h.c.Update(context.Background(), wh))
	res, err := h.reconcile(t)
	require.NoError(t, err)
	require.Len(t, h.disc.requests, 2, "the refresh is acted on at once")
	require.False(t, h.disc.requests[1].ChangedAt.IsZero())
	require.Equal(t, writes, h.statusWrites, "nothing new: no write in this pass")
	require.NotNil(t, res.Priority)
	require.Less(t, *res.Priority, 0, "the acknowledgement waits behind Warehouses of normal priority")
	require.Empty(t, h.warehouse(t).Status.LastHandledRefresh)

	res, err = h.reconcile(t)
	require.NoError(t, err)
	require.Len(t, h.disc.requests, 2, "the acknowledging pass discovers nothing")
	require.Equal(t, writes+1, h.statusWrites)
	require.Equal(t, "2026-11-21T19:00:00Z", h.warehouse(t).Status.LastHandledRefresh)
	require.Equal(t, 5*time.Minute, res.RequeueAfter)

	_, err = h.reconcile(t)
	require.NoError(t, err)
	require.True(t, h.disc.requests[2].ChangedAt.IsZero(), "a handled refresh is not repeated")
	require.Equal(t, writes+1, h.statusWrites, "idle: no write")
}

func TestAliasesAreUniqueInTheProject(t *testing.T) {
	h := newHarness(t, newWarehouse())
	name := freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "kargo-demo"}, nil, []kargoapi.Image{nginx}, nil)
	taken := freight.AliasCandidate(name, 0)
	other := &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: "0000000000000000000000000000000000000000", Namespace: "kargo-demo",
			Labels: map[string]string{kargoapi.AliasLabelKey: taken}},
		Alias:  taken,
		Images: []kargoapi.Image{{RepoURL: "other", Tag: "1"}},
	}
	require.NoError(t, h.c.Create(context.Background(), other))
	h.disc.result = discovery.Result{Images: []kargoapi.Image{nginx}}
	_, err := h.reconcile(t)
	require.NoError(t, err)
	f := &kargoapi.Freight{}
	require.NoError(t, h.c.Get(context.Background(), client.ObjectKey{Namespace: "kargo-demo", Name: name}, f))
	require.NotEqual(t, taken, f.Alias)
	require.Equal(t, freight.AliasCandidate(name, 1), f.Alias)
}

var _ runtime.Object = (*kargoapi.Warehouse)(nil)

// Freight named before the origin and commit tags were part of its name
// keeps its name: the Warehouse that made it finds it and makes no copy,
// unless it is another Warehouse's or its commit had another tag.
func TestFreightNamedTheOldWayIsFoundAgain(t *testing.T) {
	tagged := kargoapi.GitCommit{RepoURL: "https://git.example.com/app.git", ID: "02d153f75e5c042d576c713be52b57e1db8ddc97", Tag: "v1.0.0"}
	for _, tc := range []struct {
		name   string
		origin string
		tag    string
		reused bool
	}{
		{"same origin and artifacts", "kargo-demo", "v1.0.0", true},
		{"another Warehouse's", "other", "v1.0.0", false},
		{"the commit had another tag", "kargo-demo", "v1.0.0-rc.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newWarehouse())
			old := tagged
			old.Tag = tc.tag
			legacy := &kargoapi.Freight{
				ObjectMeta: metav1.ObjectMeta{Name: freight.LegacyFingerprint([]kargoapi.GitCommit{old}, []kargoapi.Image{nginx}, nil), Namespace: "kargo-demo"},
				Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: tc.origin},
				Commits:    []kargoapi.GitCommit{old},
				Images:     []kargoapi.Image{nginx},
			}
			require.NoError(t, h.c.Create(context.Background(), legacy))
			h.disc.result = discovery.Result{Commits: []kargoapi.GitCommit{tagged}, Images: []kargoapi.Image{nginx}}
			_, err := h.reconcile(t)
			require.NoError(t, err)
			list := &kargoapi.FreightList{}
			require.NoError(t, h.c.List(context.Background(), list))
			last := h.warehouse(t).Status.LastFreight
			if tc.reused {
				require.Len(t, list.Items, 1)
				require.Equal(t, legacy.Name, last.Name)
				return
			}
			require.Len(t, list.Items, 2)
			require.Equal(t, freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "kargo-demo"}, []kargoapi.GitCommit{tagged}, []kargoapi.Image{nginx}, nil), last.Name)
		})
	}
}

// A Manual Warehouse records what it discovered and creates no Freight; a
// poll that finds the same writes nothing.
func TestManualWarehouseOnlyDiscovers(t *testing.T) {
	wh := newWarehouse()
	wh.Spec.FreightCreationPolicy = kargoapi.FreightCreationManual
	h := newHarness(t, wh)
	older := kargoapi.Image{RepoURL: "nginx", Tag: "1.24.0", Digest: "sha256:bb"}
	h.disc.result = discovery.Result{Images: []kargoapi.Image{nginx}, Candidates: kargoapi.DiscoveredArtifacts{Images: []kargoapi.Image{nginx, older}}}
	_, err := h.reconcile(t)
	require.NoError(t, err)
	list := &kargoapi.FreightList{}
	require.NoError(t, h.c.List(context.Background(), list))
	require.Empty(t, list.Items)
	got := h.warehouse(t)
	require.Nil(t, got.Status.LastFreight)
	require.Equal(t, []kargoapi.Image{nginx, older}, got.Status.DiscoveredArtifacts.Images)
	require.NotNil(t, got.Status.DiscoveredArtifacts.DiscoveredAt)
	ready := meta.FindStatusCondition(got.Status.Conditions, kargoapi.ConditionReady)
	require.Equal(t, kargoapi.ReasonArtifactsDiscovered, ready.Reason)
	require.Contains(t, ready.Message, "kargo create freight --warehouse kargo-demo")

	writes := h.statusWrites
	_, err = h.reconcile(t)
	require.NoError(t, err)
	require.Equal(t, writes, h.statusWrites, "an idle Manual Warehouse writes nothing")
}

// A combination that does not meet freightCreationCriteria becomes no
// Freight, and the Warehouse says why; one that does, does.
func TestCreationCriteria(t *testing.T) {
	wh := newWarehouse()
	wh.Spec.FreightCreationCriteria = &kargoapi.FreightCreationCriteria{Expression: "images.all(i, !i.tag.contains('-rc'))"}
	h := newHarness(t, wh)
	rc := kargoapi.Image{RepoURL: "nginx", Tag: "1.26.0-rc.1", Digest: "sha256:cc"}
	h.disc.result = discovery.Result{Images: []kargoapi.Image{rc}}
	_, err := h.reconcile(t)
	require.NoError(t, err)
	list := &kargoapi.FreightList{}
	require.NoError(t, h.c.List(context.Background(), list))
	require.Empty(t, list.Items)
	ready := meta.FindStatusCondition(h.warehouse(t).Status.Conditions, kargoapi.ConditionReady)
	require.Equal(t, kargoapi.ReasonCriteriaNotMet, ready.Reason)

	h.disc.result = discovery.Result{Images: []kargoapi.Image{nginx}}
	_, err = h.reconcile(t)
	require.NoError(t, err)
	require.NoError(t, h.c.List(context.Background(), list))
	require.Len(t, list.Items, 1)
	require.Equal(t, "1.25.0", list.Items[0].Images[0].Tag)
}

// The channel Refresh returns closes once a pass has acted on its token
// and written what it found (the Freight and the status here), not before:
// the webhook receiver writes its annotations after it. A pass of another
// token does not close it; a Warehouse that is gone does.
func TestRefreshSaysWhenItsPassHasActed(t *testing.T) {
	h := newHarness(t, newWarehouse())
	h.r.events = make(chan event.GenericEvent, 4)
	h.disc.result = discovery.Result{Images: []kargoapi.Image{nginx}}
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}

	done := h.r.Refresh(h.warehouse(t), "2026-11-21T19:00:00Z")
	require.NotNil(t, done)
	require.Len(t, h.r.events, 1, "a pass is asked for")
	require.False(t, closed(done))
	// Another token's pass, as the annotation of an earlier refresh
	// brings, leaves the channel open.
	h.r.hints.Delete(h.warehouseName)
	_, err := h.reconcile(t)
	require.NoError(t, err)
	require.False(t, closed(done))

	h.r.hints.Store(h.warehouseName, "2026-11-21T19:00:00Z")
	h.disc.result = discovery.Result{Images: []kargoapi.Image{{RepoURL: "nginx", Tag: "1.26.0", Digest: "sha256:bb"}}}
	writes := h.statusWrites
	_, err = h.reconcile(t)
	require.NoError(t, err)
	require.True(t, closed(done))
	require.Equal(t, writes+1, h.statusWrites, "closed after the status write")
	wh := h.warehouse(t)
	require.Equal(t, "2026-11-21T19:00:00Z", wh.Status.LastHandledRefresh)
	require.NotNil(t, wh.Status.LastFreight)
	f := &kargoapi.Freight{}
	require.NoError(t, h.c.Get(context.Background(), client.ObjectKey{Namespace: wh.Namespace, Name: wh.Status.LastFreight.Name}, f))
	require.Equal(t, "1.26.0", f.Images[0].Tag, "the Freight of what the refresh found exists")

	// A newer refresh replaces the one waited for: the older channel
	// closes, as its token is served by the newer pass.
	first := h.r.Refresh(h.warehouse(t), "2026-11-21T19:01:00Z")
	second := h.r.Refresh(h.warehouse(t), "2026-11-21T19:02:00Z")
	require.True(t, closed(first))
	require.False(t, closed(second))
	require.NoError(t, h.c.Delete(context.Background(), h.warehouse(t)))
	_, err = h.reconcile(t)
	require.NoError(t, err)
	require.True(t, closed(second), "a Warehouse that is gone has nothing to wait for")

	require.Nil(t, h.r.Refresh(&kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "kargo-demo"}}, "x"),
		"Stages are not this reconciler's")
}
