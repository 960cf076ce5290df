package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/kargolocal"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

const (
	scaleProject    = "scale"
	scaleLines      = 10 // Warehouses, each feeding a line of Stages
	scaleLineLength = 5  // Stages per line: 50 in all
	scaleFreight    = 1000
)

// BenchmarkUIAtScale loads a project of 1,000 Freight and 50 Stages (ten
// Warehouses, each feeding a line of five Stages, the newest Freight of
// each line current in every Stage of it) in Chromium, as
// ui/e2e/scale.bench.mjs describes, and reports what a user waits for:
// the first render of the pipeline and the timeline, a scroll to the
// oldest Freight, opening a dialog; and what the page holds.
//
//	go test -run '^$' -bench BenchmarkUIAtScale ./test/ui/
func BenchmarkUIAtScale(b *testing.B) {
	// The project takes a minute to build and each load is a fresh
	// browser: the loads are measured once per process (KARGO_BENCH_RUNS,
	// default 5), whatever b.N the benchmark framework tries.
	scaleOnce.Do(func() { scale, scaleErr = measureScale(b) })
	require.NoError(b, scaleErr)
	r := scale
	b.ReportMetric(median(r.FirstRenderMs), "first-render-p50-ms")
	b.ReportMetric(slices.Max(r.FirstRenderMs), "first-render-max-ms")
	b.ReportMetric(median(r.ScrollToEndMs), "scroll-to-oldest-ms")
	b.ReportMetric(median(r.OpenDialogMs), "open-dialog-ms")
	b.ReportMetric(r.DOMNodes, "dom-nodes")
	b.ReportMetric(r.TimelineRows, "timeline-rows-drawn")
	b.ReportMetric(r.HeapMB, "js-heap-MB")
	b.ReportMetric(r.FreightPerSecond, "freight-created/s")
}

type scaleResult struct {
	FirstRenderMs []float64 `json:"firstRenderMs"`
	ScrollToEndMs []float64 `json:"scrollToEndMs"`
	OpenDialogMs  []float64 `json:"openDialogMs"`
	DOMNodes      float64   `json:"domNodes"`
	TimelineRows  float64   `json:"timelineRows"`
	HeapMB        float64   `json:"heapMB"`
	// FreightPerSecond is how fast the setup created Freight through
	// admission, one client, one at a time.
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
	r.FreightPerSecond = setUpScale(b, c)
	runs := os.Getenv("KARGO_BENCH_RUNS")
	if runs == "" {
		runs = "5"
	}
	out := runScript(b, script, []string{
		"KARGO_UI_URL=" + uiURL,
		"KARGO_PROJECT=" + scaleProject,
		fmt.Sprintf("KARGO_STAGES=%d", scaleLines*scaleLineLength),
		fmt.Sprintf("KARGO_FREIGHT=%d", scaleFreight),
		"KARGO_BENCH_RUNS=" + runs,
		"KARGO_CHROMIUM=" + chromium,
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return r, fmt.Errorf("the script's result: %w\n%s", err, out)
	}
	return r, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// setUpScale creates the scale project: Warehouses whose registry is
// down (nothing new comes), 100 Freight of each created as a Warehouse
// would, and each line's newest Freight promoted through the line.
func setUpScale(b *testing.B, c client.Client) (freightPerSecond float64) {
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
	newest := make([]string, scaleLines)
	created := time.Now()
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
	for n := range scaleFreight {
		w := n % scaleLines
		images := []kargoapi.Image{{RepoURL: fmt.Sprintf("127.0.0.1:1/app-%d", w), Tag: fmt.Sprintf("1.0.%d", n/scaleLines)}}
		f := &kargoapi.Freight{
			ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: fmt.Sprintf("w%d", w)}, nil, images, nil), Namespace: scaleProject},
			Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: fmt.Sprintf("w%d", w)},
			Images:     images,
		}
		require.NoError(b, c.Create(ctx, f))
		newest[w] = f.Name
	}
	took := time.Since(created)
	b.Logf("created %d Freight in %s", scaleFreight, took.Round(time.Millisecond))
	freightPerSecond = scaleFreight / took.Seconds()
	promoting := time.Now()
	for i := range scaleLineLength {
		for w := range scaleLines {
			stage := fmt.Sprintf("l%d-s%d", w, i)
			require.NoError(b, c.Create(ctx, &kargoapi.Promotion{
				ObjectMeta: metav1.ObjectMeta{GenerateName: stage + "-", Namespace: scaleProject},
				Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: newest[w]},
			}))
		}
		for w := range scaleLines {
			stage := fmt.Sprintf("l%d-s%d", w, i)
			kubetest.Eventually(b, time.Minute, stage+" has its line's newest Freight", func() (bool, string) {
				st := &kargoapi.Stage{}
				if err := c.Get(ctx, client.ObjectKey{Namespace: scaleProject, Name: stage}, st); err != nil {
					return false, err.Error()
				}
				f := &kargoapi.Freight{}
				if err := c.Get(ctx, client.ObjectKey{Namespace: scaleProject, Name: newest[w]}, f); err != nil {
					return false, err.Error()
				}
				_, verified := f.Status.VerifiedIn[stage]
				return st.Status.CurrentFreight != nil && st.Status.CurrentFreight.ID == newest[w] && verified, string(st.Status.Phase)
			})
		}
	}
	b.Logf("promoted each line's newest Freight through its five Stages in %s", time.Since(promoting).Round(time.Millisecond))
	return freightPerSecond
}
