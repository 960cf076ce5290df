// Package gc tests garbage collection of Freight and Promotions on a real
// kube-apiserver, with kargo's controllers, admission webhooks and the
// controller's own RBAC: thousands of Freight, of which the newest and
// those in use are kept.
package gc

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/gc"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env, controllers.Run) }

const gcFreight = 2000

// gcController is a client with the controller's identity, rights and
// request rate, as the collector in the manager has.
func gcController(t *testing.T) client.Client {
	cfg, err := env.UserConfig(controllers.ServiceAccount, "system:serviceaccounts", "system:serviceaccounts:"+install.Namespace, "system:authenticated")
	require.NoError(t, err)
	cfg.QPS, cfg.Burst = 100, 200
	s, err := scheme.New()
	require.NoError(t, err)
	c, err := client.New(cfg, client.Options{Scheme: s})
	require.NoError(t, err)
	return c
}

func gcPromote(t *testing.T, ctx context.Context, ns, stage, freightName string) {
	t.Helper()
	p := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{GenerateName: stage + "-", Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: freightName},
	}
	require.NoError(t, env.Admin.Create(ctx, p))
	kubetest.Eventually(t, time.Minute, "Promotion "+p.Name+" succeeded", func() (bool, string) {
		got := &kargoapi.Promotion{}
		if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == kargoapi.PromotionPhaseSucceeded, string(got.Status.Phase) + " " + got.Status.Message
	})
}

func gcRemaining(t *testing.T, ctx context.Context, ns string) map[string]bool {
	t.Helper()
	list := &kargoapi.FreightList{}
	require.NoError(t, env.Admin.List(ctx, list, client.InNamespace(ns)))
	out := map[string]bool{}
	for _, f := range list.Items {
		out[f.Name] = true
	}
	return out
}

func gcDeletedMetric(t *testing.T, kind string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "kargo_gc_deleted_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestGarbageCollectionKeepsTheNewestAndWhatIsInUse(t *testing.T) {
	ctx := context.Background()
	const project = "gc-thousands"
	env.CreateProject(t, project)
	repo := "127.0.0.1:1/app" // nothing listens: the Warehouse discovers nothing new
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: project},
		Spec: kargoapi.WarehouseSpec{
			Interval:      &metav1.Duration{Duration: time.Hour},
			Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(repo)}}},
		},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: project},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}},
	}))

	// Thousands of Freight, as the Warehouse would have made them, oldest first.
	names := make([]string, gcFreight)
	for i := range names {
		names[i] = freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}, nil, []kargoapi.Image{{RepoURL: repo, Tag: fmt.Sprintf("1.0.%d", i)}}, nil)
	}
	start := time.Now()
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < gcFreight; i += workers {
				f := &kargoapi.Freight{
					ObjectMeta: metav1.ObjectMeta{Name: names[i], Namespace: project},
					Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"},
					Images:     []kargoapi.Image{{RepoURL: repo, Tag: fmt.Sprintf("1.0.%d", i)}},
				}
				if err := env.Admin.Create(ctx, f); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("created %d Freight in %s", gcFreight, time.Since(start).Round(time.Millisecond))

	// What is in use: test's current Freight and one in its history (two
	// promotions), and a Freight approved for a Stage.
	gcPromote(t, ctx, project, "test", names[10])
	gcPromote(t, ctx, project, "test", names[20])
	approved := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: names[5]}, approved))
	patch := client.MergeFrom(approved.DeepCopy())
	approved.Status.ApprovedFor = map[string]kargoapi.ApprovedStage{"prod": {}}
	require.NoError(t, env.Admin.Status().Patch(ctx, approved, patch))
	inUse := []string{names[5], names[10], names[20]}

	// The newest Freight by discovery time: the last ones created, except
	// where creations of one second were stamped out of order by the
	// concurrent workers; the collector's order is the one every list uses.
	all := &kargoapi.FreightList{}
	require.NoError(t, env.Admin.List(ctx, all, client.InNamespace(project)))
	require.Len(t, all.Items, gcFreight)
	newest := func(n int) map[string]bool {
		items := all.Items
		order := make([]*kargoapi.Freight, len(items))
		for i := range items {
			order[i] = &items[i]
		}
		// newest first, as freight.DiscoveredAt orders them
		for i := 1; i < len(order); i++ {
			for j := i; j > 0 && freight.DiscoveredAt(order[j]).After(freight.DiscoveredAt(order[j-1])); j-- {
				order[j], order[j-1] = order[j-1], order[j]
			}
		}
		out := map[string]bool{}
		for _, f := range order[:n] {
			out[f.Name] = true
		}
		return out
	}

	collector := &gc.Collector{Client: gcController(t), Recorder: gcRecorder(t), Policy: gc.Policy{KeepFreight: 100, KeepPromotions: 1}}
	before := gcDeletedMetric(t, "Freight")
	start = time.Now()
	r, err := collector.Collect(ctx)
	require.NoError(t, err)
	t.Logf("collected %d Freight and %d Promotions in %s", r.Freight, r.Promotions, time.Since(start).Round(time.Millisecond))
	want := newest(100)
	for _, n := range inUse {
		want[n] = true
	}
	require.Equal(t, want, gcRemaining(t, ctx, project), "the newest 100 and the three in use are kept")
	require.Equal(t, gcFreight-len(want), r.Freight)
	require.Equal(t, float64(r.Freight), gcDeletedMetric(t, "Freight")-before)
	require.Equal(t, 1, r.Promotions, "of test's two finished Promotions, the newer is kept")

	// A second pass has nothing to do.
	r, err = collector.Collect(ctx)
	require.NoError(t, err)
	require.Equal(t, gc.Result{}, r)

	// The Project's own policy: 10 Freight.
	p := &kargoapi.Project{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: project}, p))
	projectPatch := client.MergeFrom(p.DeepCopy())
	p.Annotations = map[string]string{kargoapi.KeepFreightAnnotationKey: "10"}
	require.NoError(t, env.Admin.Patch(ctx, p, projectPatch))
	_, err = collector.Collect(ctx)
	require.NoError(t, err)
	want = newest(10)
	for _, n := range inUse {
		want[n] = true
	}
	require.Equal(t, want, gcRemaining(t, ctx, project))

	// Events say what was deleted, on the Warehouse and the Stage.
	kubetest.Eventually(t, 30*time.Second, "GarbageCollected events", func() (bool, string) {
		events := &eventsv1.EventList{}
		if err := env.Admin.List(ctx, events, client.InNamespace(project)); err != nil {
			return false, err.Error()
		}
		seen := map[string]string{}
		for _, e := range events.Items {
			if e.Reason == gc.ReasonGarbageCollected {
				seen[e.Regarding.Kind+"/"+e.Regarding.Name] += e.Note + "; "
			}
		}
		return len(seen) == 2 && seen["Warehouse/w"] != "" && seen["Stage/test"] != "", fmt.Sprint(seen)
	})
}

// gcRecorder records events as the controller does, with its rights.
func gcRecorder(t *testing.T) events.EventRecorder {
	cfg, err := env.UserConfig(controllers.ServiceAccount, "system:serviceaccounts", "system:serviceaccounts:"+install.Namespace, "system:authenticated")
	require.NoError(t, err)
	s, err := scheme.New()
	require.NoError(t, err)
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: kubernetes.NewForConfigOrDie(cfg).EventsV1()})
	ctx, cancel := context.WithCancel(context.Background())
	b.StartRecordingToSink(ctx.Done())
	t.Cleanup(func() { cancel(); b.Shutdown() })
	return b.NewRecorder(s, "kargo-gc")
}

// The controller's identity cannot delete a Stage's current Freight
// (admission refuses), and the collector keeps it without being told.
func TestGarbageCollectionSkipsFreightThatCameIntoUse(t *testing.T) {
	ctx := context.Background()
	const project = "gc-race"
	env.CreateProject(t, project)
	repo := "127.0.0.1:1/race"
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: project},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}},
	}))
	var names []string
	for i := range 3 {
		images := []kargoapi.Image{{RepoURL: repo, Tag: fmt.Sprintf("2.0.%d", i)}}
		f := &kargoapi.Freight{
			ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}, nil, images, nil), Namespace: project},
			Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"},
			Images:     images,
		}
		require.NoError(t, env.Admin.Create(ctx, f))
		names = append(names, f.Name)
	}
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: project},
		Spec: kargoapi.WarehouseSpec{
			Interval:      &metav1.Duration{Duration: time.Hour},
			Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(repo)}}},
		},
	}))
	gcPromote(t, ctx, project, "test", names[0])
	c := gcController(t)
	err := c.Delete(ctx, &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: names[0]}})
	require.Error(t, err, "admission lets nobody delete a Stage's current Freight")
	collector := &gc.Collector{Client: c, Policy: gc.Policy{KeepFreight: 1, KeepPromotions: 10}}
	r, err := collector.CollectProject(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: project}})
	require.NoError(t, err)
	require.Equal(t, 1, r.Freight, "only the middle Freight: the newest is kept, the oldest is in use")
	require.Equal(t, map[string]bool{names[0]: true, names[2]: true}, gcRemaining(t, ctx, project))
}
