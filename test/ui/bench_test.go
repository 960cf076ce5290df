package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/kargolocal"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

const (
	scaleProject    = "scale"
	scaleLines      = 20 // Warehouses, each feeding a line of Stages
	scaleLineLength = 10 // Stages per line: 200 in all
	scaleFreight    = 10_000
	// scaleWorkers create the Freight side by side.
	scaleWorkers = 8
)

// BenchmarkUIAtScale loads a project of 10,000 Freight and 200 Stages
// (20 Warehouses, each feeding a line of ten Stages, the newest Freight of
// each line current in every Stage of it) in Chromium, as
// ui/e2e/scale.bench.mjs describes, and reports what a user waits for:
// the first render of the pipeline and the timeline, opening a Stage
// view, a promotion's live update (from the benchmark seeing the
// controller's status write to the Stage card changing in the page), a
// scroll to the oldest Freight, opening a dialog; and what the page holds.
//
//	go test -run '^$' -bench BenchmarkUIAtScale -timeout 30m ./test/ui/
func BenchmarkUIAtScale(b *testing.B) {
	// The project takes minutes to build and each load is a fresh
	// browser: the loads are measured once per process (KARGO_BENCH_RUNS,
	// default 7), whatever b.N the benchmark framework tries.
	scaleOnce.Do(func() { scale, scaleErr = measureScale(b) })
	require.NoError(b, scaleErr)
	r := scale
	b.ReportMetric(percentile(r.FirstRenderMs, 50), "first-render-p50-ms")
	b.ReportMetric(percentile(r.FirstRenderMs, 99), "first-render-p99-ms")
	b.ReportMetric(percentile(r.OpenStageMs, 50), "open-stage-p50-ms")
	b.ReportMetric(percentile(r.OpenStageMs, 99), "open-stage-p99-ms")
	b.ReportMetric(percentile(r.LiveUpdateMs, 50), "live-update-p50-ms")
	b.ReportMetric(percentile(r.LiveUpdateMs, 99), "live-update-p99-ms")
	b.ReportMetric(percentile(r.ScrollToEndMs, 50), "scroll-to-oldest-ms")
	b.ReportMetric(percentile(r.OpenDialogMs, 50), "open-dialog-ms")
	b.ReportMetric(r.DOMNodes, "dom-nodes")
	b.ReportMetric(r.TimelineRows, "timeline-rows-drawn")
	b.ReportMetric(r.HeapMB, "js-heap-MB")
	b.ReportMetric(r.FreightPerSecond, "freight-created/s")
	b.ReportMetric(r.Load, "load-avg-1m")
	b.Logf("first render %v ms; open Stage %v ms; live update %v ms", r.FirstRenderMs, r.OpenStageMs, r.LiveUpdateMs)
}

type scaleResult struct {
	FirstRenderMs []float64 `json:"firstRenderMs"`
	OpenStageMs   []float64 `json:"openStageMs"`
	ScrollToEndMs []float64 `json:"scrollToEndMs"`
	OpenDialogMs  []float64 `json:"openDialogMs"`
	// LiveAt is when each live update (KARGO_LIVE's order) showed in the
	// page, in milliseconds since the Unix epoch.
	LiveAt       []float64 `json:"liveAt"`
	DOMNodes     float64   `json:"domNodes"`
	TimelineRows float64   `json:"timelineRows"`
	HeapMB       float64   `json:"heapMB"`
	// LiveUpdateMs is, for each live update, LiveAt less when the
	// benchmark's watch saw the Stage's status write.
	LiveUpdateMs []float64 `json:"-"`
	// Load is the higher of the 1-minute load averages before and after
	// the browser's part.
	Load float64 `json:"-"`
	// FreightPerSecond is how fast the setup created Freight through
	// admission.
	FreightPerSecond float64 `json:"-"`
}

var (
	scaleOnce sync.Once
	scale     scaleResult
	scaleErr  error
)

func measureScale(b *testing.B) (scaleResult, error) {
	chromium, script := prerequisites(b, "scale.bench.mjs")
	l := kargolocal.Start(b, kargolocal.Options{Bin: kargoBin, BinDir: binDir, DataDir: filepath.Join(b.TempDir(), "state"), Port: kargolocal.FreePort(b)})
	defer l.Stop(b)
	uiURL, err := l.UIURL()
	if err != nil {
		return scaleResult{}, err
	}
	c := adminClient(b, l)
	var r scaleResult
	var live []liveUpdate
	r.FreightPerSecond, live = setUpScale(b, c)
	runs := os.Getenv("KARGO_BENCH_RUNS")
	if runs == "" {
		runs = "7"
	}
	seen := watchStageWrites(b, l, live)
	targets := make([]string, len(live))
	for i, u := range live {
		targets[i] = u.stage + "=" + u.freight
	}
	loadBefore := loadAverage()
	// Seven loads of 10,000 Freight and twenty promotions take minutes on
	// a busy machine.
	out := runScriptWithin(b, 20*time.Minute, script, []string{
		"KARGO_UI_URL=" + uiURL,
		"KARGO_PROJECT=" + scaleProject,
		fmt.Sprintf("KARGO_STAGES=%d", scaleLines*scaleLineLength),
		fmt.Sprintf("KARGO_FREIGHT=%d", scaleFreight),
		"KARGO_BENCH_RUNS=" + runs,
		"KARGO_LIVE=" + strings.Join(targets, ","),
		"KARGO_CHROMIUM=" + chromium,
	})
	// The machine may be shared: the load average, as `uptime` says it,
	// goes with the figures.
	r.Load = max(loadBefore, loadAverage())
	b.Logf("load average (1 min) before the browser ran: %.2f, after: %.2f", loadBefore, loadAverage())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return r, fmt.Errorf("the script's result: %w\n%s", err, out)
	}
	if len(r.LiveAt) != len(live) {
		return r, fmt.Errorf("the script saw %d live updates of %d", len(r.LiveAt), len(live))
	}
	for i, u := range live {
		written, ok := seen.at(u)
		if !ok {
			return r, fmt.Errorf("the page showed %s in %s, but the benchmark never saw it written", u.freight, u.stage)
		}
		r.LiveUpdateMs = append(r.LiveUpdateMs, r.LiveAt[i]-float64(written.UnixMicro())/1000)
	}
	return r, nil
}

// loadAverage is the machine's 1-minute load average (0 where it cannot
// be read).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}

// percentile returns the p-th percentile of xs (nearest rank).
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// liveUpdate is a promotion the script asks for through the API while the
// pipeline is open: freight into stage.
type liveUpdate struct{ stage, freight string }

// stageWrites records when the benchmark first saw each awaited Freight
// become current in its Stage.
type stageWrites struct {
	mu   sync.Mutex
	seen map[liveUpdate]time.Time
}

func (w *stageWrites) at(u liveUpdate) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.seen[u]
	return t, ok
}

// watchStageWrites watches the project's Stages from now until the
// benchmark ends. The time an event arrives is a few milliseconds after
// the write itself, so the live-update figure is short by as much.
func watchStageWrites(b *testing.B, l *kargolocal.Local, awaited []liveUpdate) *stageWrites {
	b.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig())
	require.NoError(b, err)
	s, err := scheme.New()
	require.NoError(b, err)
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: s})
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	wi, err := wc.Watch(ctx, &kargoapi.StageList{}, client.InNamespace(scaleProject))
	require.NoError(b, err)
	want := map[string]string{}
	for _, u := range awaited {
		want[u.stage] = u.freight
	}
	w := &stageWrites{seen: map[liveUpdate]time.Time{}}
	go func() {
		defer wi.Stop()
		for ev := range wi.ResultChan() {
			now := time.Now()
			st, ok := ev.Object.(*kargoapi.Stage)
			if !ok || st.Status.CurrentFreight == nil || want[st.Name] != st.Status.CurrentFreight.ID {
				continue
			}
			u := liveUpdate{st.Name, st.Status.CurrentFreight.ID}
			w.mu.Lock()
			if _, dup := w.seen[u]; !dup {
				w.seen[u] = now
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// setUpScale creates the scale project: Warehouses whose registry is
// down (nothing new comes), 500 Freight of each created as a Warehouse
// would, and each line's newest Freight promoted through the line. It
// returns the live updates for the script to ask for: each line's second
// newest Freight into the line's first Stage.
func setUpScale(b *testing.B, c client.Client) (freightPerSecond float64, live []liveUpdate) {
	b.Helper()
	ctx := context.Background()
	require.NoError(b, c.Create(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: scaleProject}}))
	kubetest.Eventually(b, time.Minute, "Project ready", func() (bool, string) {
		p := &kargoapi.Project{}
		if err := c.Get(ctx, client.ObjectKey{Name: scaleProject}, p); err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == kargoapi.ProjectPhaseReady, string(p.Status.Phase)
	})
	for w := range scaleLines {
		wh := fmt.Sprintf("w%d", w)
		require.NoError(b, c.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: wh, Namespace: scaleProject},
			Spec: kargoapi.WarehouseSpec{
				Interval:      &metav1.Duration{Duration: time.Hour},
				Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(fmt.Sprintf("127.0.0.1:1/app-%d", w))}}},
			},
		}))
		for i := range scaleLineLength {
			subs := kargoapi.Subscriptions{Warehouse: wh}
			if i > 0 {
				subs = kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: fmt.Sprintf("l%d-s%d", w, i-1)}}}
			}
			require.NoError(b, c.Create(ctx, &kargoapi.Stage{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("l%d-s%d", w, i), Namespace: scaleProject},
				Spec:       kargoapi.StageSpec{Subscriptions: &subs},
			}))
		}
	}
	// Freight n is the (n / scaleLines)-th of Warehouse n % scaleLines.
	name := make([]string, scaleFreight)
	created := time.Now()
	next := make(chan int)
	errs := make(chan error, scaleWorkers)
	for range scaleWorkers {
		go func() {
			for n := range next {
				w := n % scaleLines
				origin := &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: fmt.Sprintf("w%d", w)}
				images := []kargoapi.Image{{RepoURL: fmt.Sprintf("127.0.0.1:1/app-%d", w), Tag: fmt.Sprintf("1.0.%d", n/scaleLines)}}
				f := &kargoapi.Freight{
					ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(origin, nil, images, nil), Namespace: scaleProject},
					Origin:     origin,
					Images:     images,
				}
				if err := c.Create(ctx, f); err != nil {
					errs <- fmt.Errorf("create Freight %d: %w", n, err)
					return
				}
				name[n] = f.Name
			}
			errs <- nil
		}()
	}
	for n := range scaleFreight {
		next <- n
	}
	close(next)
	for range scaleWorkers {
		require.NoError(b, <-errs)
	}
	took := time.Since(created)
	b.Logf("created %d Freight in %s with %d clients", scaleFreight, took.Round(time.Millisecond), scaleWorkers)
	freightPerSecond = scaleFreight / took.Seconds()
	newest := func(w, back int) string { return name[scaleFreight-scaleLines*(1+back)+w] }
	promoting := time.Now()
	for i := range scaleLineLength {
		for w := range scaleLines {
			stage := fmt.Sprintf("l%d-s%d", w, i)
			require.NoError(b, c.Create(ctx, &kargoapi.Promotion{
				ObjectMeta: metav1.ObjectMeta{GenerateName: stage + "-", Namespace: scaleProject},
				Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: newest(w, 0)},
			}))
		}
		for w := range scaleLines {
			stage := fmt.Sprintf("l%d-s%d", w, i)
			kubetest.Eventually(b, 2*time.Minute, stage+" has its line's newest Freight", func() (bool, string) {
				st := &kargoapi.Stage{}
				if err := c.Get(ctx, client.ObjectKey{Namespace: scaleProject, Name: stage}, st); err != nil {
					return false, err.Error()
				}
				f := &kargoapi.Freight{}
				if err := c.Get(ctx, client.ObjectKey{Namespace: scaleProject, Name: newest(w, 0)}, f); err != nil {
					return false, err.Error()
				}
				_, verified := f.Status.VerifiedIn[stage]
				return st.Status.CurrentFreight != nil && st.Status.CurrentFreight.ID == newest(w, 0) && verified, string(st.Status.Phase)
			})
		}
	}
	b.Logf("promoted each line's newest Freight through its %d Stages in %s", scaleLineLength, time.Since(promoting).Round(time.Millisecond))
	for w := range scaleLines {
		live = append(live, liveUpdate{stage: fmt.Sprintf("l%d-s0", w), freight: newest(w, 1)})
	}
	return freightPerSecond, live
}
