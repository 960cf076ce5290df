package kubetest

import (
	"context"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// BenchPromotions measures promotions into Stage stage of project ns, as the
// admin: each creates the Freight newFreight makes for the i-th one (from
// 1) and a Promotion of it, and lasts until done, polled every 5 ms, says
// it has ended (done fails the benchmark with what it saw when it never
// can). The first promotion starts caches and clones and is reported apart
// (first-ms); then b.Loop's promotions give p50-ms and p99-ms.
func (e *Env) BenchPromotions(b *testing.B, ns, stage string, newFreight func(i int) *kargoapi.Freight,
	done func(f *kargoapi.Freight, p *kargoapi.Promotion) bool) {
	b.Helper()
	ctx := context.Background()
	i := 0
	promoteOnce := func() time.Duration {
		i++
		f := newFreight(i)
		if err := e.Admin.Create(ctx, f); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		p := &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{GenerateName: stage + "-", Namespace: ns},
			Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: f.Name},
		}
		if err := e.Admin.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for !done(f, p) {
			if time.Now().After(deadline) {
				b.Fatalf("promotion of Freight %s into %s did not end in a minute", f.Name, stage)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	first := promoteOnce()
	var lat []time.Duration
	for b.Loop() {
		lat = append(lat, promoteOnce())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(ms(first), "first-ms")
}
