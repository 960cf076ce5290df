package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/availability"
	"github.com/kargohq/kargo/internal/controller/stage"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// stagewritesProject makes a project with stages Stages subscribed to
// Warehouse "w" (which need not exist: Freight is created directly) and
// waits until the Stage controller has seen each of them.
func stagewritesProject(t testing.TB, prefix string, stages int) (string, []string) {
	t.Helper()
	ctx := context.Background()
	ns := env.NewProject(t, prefix)
	names := make([]string, stages)
	for i := range names {
		names[i] = fmt.Sprintf("s%d", i)
		require.NoError(t, env.Admin.Create(ctx, objects.Stage(ns, names[i], objects.SubscribesTo(objects.DefaultWarehouse))))
	}
	for _, name := range names {
		eventually(t, 30*time.Second, "Stage "+name+" ready", func() (bool, string) {
			st := &kargoapi.Stage{}
			if err := env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, st); err != nil {
				return false, err.Error()
			}
			return meta.IsStatusConditionTrue(st.Status.Conditions, kargoapi.ConditionReady), fmt.Sprintf("%+v", st.Status)
		})
	}
	return ns, names
}

// stagewritesFreight creates n Freight from Warehouse "w" in ns through
// admission, with clients creating at once, and returns their names oldest
// first. With one client each is newer than the one before; with more, the
// order is the one kargo gives Freight (freight.DiscoveredAt, then name),
// read back from the API server. It is called off the test's goroutine, so
// it returns its error rather than failing the test.
func stagewritesFreight(ctx context.Context, ns string, from, n, clients int) ([]string, error) {
	names := make([]string, n)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := c; i < n; i += clients {
				f := objects.Freight(ns, objects.Image("registry.example.com/app", fmt.Sprintf("1.0.%d", from+i)))
				if err := env.Admin.Create(ctx, f); err != nil {
					errs[c] = fmt.Errorf("create Freight %d: %w", from+i, err)
					return
				}
				names[i] = f.Name
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil || clients == 1 {
		return names, err
	}
	list := &kargoapi.FreightList{}
	if err := env.Admin.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list Freight: %w", err)
	}
	mine := map[string]bool{}
	for _, name := range names {
		mine[name] = true
	}
	var made []kargoapi.Freight
	for _, f := range list.Items {
		if mine[f.Name] {
			made = append(made, f)
		}
	}
	slices.SortFunc(made, func(a, b kargoapi.Freight) int {
		if c := freight.DiscoveredAt(&a).Compare(freight.DiscoveredAt(&b)); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	for i := range made {
		names[i] = made[i].Name
	}
	return names, nil
}

// stagewritesExpected is the available Freight a Stage subscribed to the
// Warehouse of created (oldest first) must show: every one, newest first,
// at most availability.ListedPerOrigin.
func stagewritesExpected(created []string) []string {
	want := slices.Clone(created)
	slices.Reverse(want)
	return want[:min(len(want), availability.ListedPerOrigin)]
}

// stagewritesCount is what a burst of Freight cost the Stages of a project.
type stagewritesCount struct {
	// writes counts, per Stage, the writes the API server stored (one watch
	// event each; a write that changes nothing stores nothing).
	writes map[string]int
	// bytes sums, per Stage, the size of the objects those writes stored,
	// which is also what each watcher of Stages received.
	bytes map[string]int
	// last is each Stage as the last write left it.
	last map[string]*kargoapi.Stage
}

// stagewritesBurst creates n more Freight after the created ones (see
// stagewritesFreight for clients) and
// follows the Stages with a watch, from before the first Freight until
// each Stage shows exactly its expected available Freight; it fails t when
// that takes longer than timeout. It returns every Freight created and
// what the burst cost.
func stagewritesBurst(t testing.TB, ns string, stages, created []string, n, clients int, timeout time.Duration) ([]string, stagewritesCount) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	list := &kargoapi.StageList{}
	require.NoError(t, env.Admin.List(ctx, list, client.InNamespace(ns)))
	// The API server may end a watch at any time; the next one starts
	// where the last ended, so no write is missed or counted twice.
	rv := list.ResourceVersion
	rewatch := func() watch.Interface {
		w, err := watcher.Watch(ctx, &kargoapi.StageList{}, client.InNamespace(ns), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
		require.NoError(t, err)
		return w
	}
	w := rewatch()
	defer func() { w.Stop() }()

	// The Freight are created while the watch is read: the API server
	// closes a watch whose reader falls behind.
	type result struct {
		names []string
		err   error
	}
	made := make(chan result, 1)
	go func() {
		names, err := stagewritesFreight(ctx, ns, len(created), n, clients)
		made <- result{names, err}
	}()
	var all, want []string
	c := stagewritesCount{writes: map[string]int{}, bytes: map[string]int{}, last: map[string]*kargoapi.Stage{}}
	for i := range list.Items {
		c.last[list.Items[i].Name] = &list.Items[i]
	}
	done := func() bool {
		if all == nil {
			return false
		}
		for _, name := range stages {
			if !slices.Equal(stagewritesIDs(c.last[name]), want) {
				return false
			}
		}
		return true
	}
	for !done() {
		select {
		case fresh := <-made:
			require.NoError(t, fresh.err)
			all = append(slices.Clone(created), fresh.names...)
			want = stagewritesExpected(all)
			made = nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				w = rewatch()
				continue
			}
			if ev.Type == watch.Error {
				t.Fatalf("watch the Stages: %v", ev.Object)
			}
			st, isStage := ev.Object.(*kargoapi.Stage)
			if !isStage {
				continue
			}
			rv = st.ResourceVersion
			if ev.Type != watch.Modified {
				continue
			}
			raw, err := json.Marshal(st)
			require.NoError(t, err)
			c.writes[st.Name]++
			c.bytes[st.Name] += len(raw)
			c.last[st.Name] = st
		case <-ctx.Done():
			t.Fatalf("the Stages did not show the %d Freight within %s: %s", len(want), timeout, stagewritesSummary(stages, c.last))
		}
	}
	return all, c
}

func stagewritesIDs(st *kargoapi.Stage) []string {
	if st == nil {
		return nil
	}
	ids := make([]string, len(st.Status.AvailableFreight))
	for i, f := range st.Status.AvailableFreight {
		ids[i] = f.ID
	}
	return ids
}

func stagewritesSummary(stages []string, last map[string]*kargoapi.Stage) string {
	var parts []string
	for _, name := range stages {
		parts = append(parts, fmt.Sprintf("%s shows %d", name, len(stagewritesIDs(last[name]))))
	}
	return strings.Join(parts, ", ")
}

// A burst of Freight for one Warehouse must not cost each Stage subscribed
// to it one status write per Freight: the Stage controller writes a list
// whose only change is new Freight at most once a window. The bound is a
// count of writes, not a time: a burst of 40 would have to last more than
// a dozen windows to reach it.
func TestBurstOfFreightCostsEachStageFewWrites(t *testing.T) {
	const n = 40
	ns, stages := stagewritesProject(t, "stagewrites", 3)
	_, c := stagewritesBurst(t, ns, stages, nil, n, 1, 2*time.Minute)
	t.Logf("writes per Stage for %d Freight: %v", n, c.writes)
	for _, name := range stages {
		require.Less(t, c.writes[name], n/3, "Stage %s was written %d times for %d Freight", name, c.writes[name], n)
		require.Positive(t, c.writes[name])
	}
}

// After a burst that overfills it, a Stage's available Freight is exactly
// every Freight of its Warehouse, newest first, capped at
// availability.ListedPerOrigin, and its Ready message says that more may be
// available than it shows; a single
// later Freight is shown too.
func TestAvailableFreightExactAfterBurst(t *testing.T) {
	ctx := context.Background()
	ns, stages := stagewritesProject(t, "stagewrites-exact", 2)
	created, _ := stagewritesBurst(t, ns, stages, nil, availability.ListedPerOrigin+5, 1, 3*time.Minute)
	for _, name := range stages {
		st := &kargoapi.Stage{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, st))
		require.Equal(t, stagewritesExpected(created), stagewritesIDs(st), "Stage %s", name)
		require.Contains(t, meta.FindStatusCondition(st.Status.Conditions, kargoapi.ConditionReady).Message, fmt.Sprintf("at least %d Freight available", availability.ListedPerOrigin))
	}
	// One more, alone, is shown too: a change held back is written when
	// its window ends, not with the next change.
	created, _ = stagewritesBurst(t, ns, stages, created, 1, 1, time.Minute)
	for _, name := range stages {
		st := &kargoapi.Stage{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, st))
		require.Equal(t, stagewritesExpected(created), stagewritesIDs(st), "Stage %s", name)
		require.Equal(t, created[len(created)-1], st.Status.AvailableFreight[0].ID)
	}
}

// BenchmarkStageWritesPerFreight measures what a burst of Freight for one
// Warehouse costs the Stages subscribed to it: 5 Stages, each already
// showing a full list of availability.ListedPerOrigin Freight (as a Stage that
// has lived a while does) and idle for a while, then 50 new Freight
// created through admission, one after another (clients=1) or by 8 clients
// at once (clients=8, as a CI system publishing many artifacts makes them).
// It reports the Stage writes the API server stored per Freight (all
// Stages together, and per Stage), the bytes those writes stored (each
// also sent to every watcher of Stages) per Freight, and the size of one
// Stage with a full list. Run it with -benchtime=1x or 3x.
func BenchmarkStageWritesPerFreight(b *testing.B) {
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { stagewritesBench(b, clients) })
	}
}

func stagewritesBench(b *testing.B, clients int) {
	const stages, burst = 5, 50
	var writes, bytes, total, size, listSize float64
	for b.Loop() {
		b.StopTimer()
		ns, names := stagewritesProject(b, "stagewrites-bench", stages)
		created, _ := stagewritesBurst(b, ns, names, nil, availability.ListedPerOrigin, 8, 5*time.Minute)
		// The scenario, not a synchronisation: Stages that have not
		// changed for a window, as before any burst in a real project.
		time.Sleep(stage.AvailableFreightWindow)
		b.StartTimer()
		_, c := stagewritesBurst(b, ns, names, created, burst, clients, 5*time.Minute)
		b.StopTimer()
		for _, name := range names {
			writes += float64(c.writes[name])
			bytes += float64(c.bytes[name])
		}
		total += burst
		raw, err := json.Marshal(c.last[names[0]])
		require.NoError(b, err)
		size = float64(len(raw))
		list, err := json.Marshal(c.last[names[0]].Status.AvailableFreight)
		require.NoError(b, err)
		listSize = float64(len(list))
		b.StartTimer()
	}
	b.ReportMetric(writes/total, "stage-writes/freight")
	b.ReportMetric(writes/total/stages, "writes/freight/stage")
	b.ReportMetric(bytes/total, "stored-bytes/freight")
	b.ReportMetric(size, "stage-bytes")
	b.ReportMetric(listSize, "availableFreight-bytes")
}
