package verification

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// BenchmarkPromotionToVerified measures, for a Stage with one Argo CD
// Application, the time from creating a Promotion to the Freight being
// verified in the Stage: kargo's commit to the Stage's branch, the
// Application update, the real Argo CD's refresh and sync of that commit,
// its health report and kargo's verification, end to end through the API
// server.
func BenchmarkPromotionToVerified(b *testing.B) {
	ctx := context.Background()
	ns := env.NewProject(b, "bench")
	_, repo := gitopsRepo(b, nil, "test")
	application(b, ns+"-test", ns, "test", repo)
	if err := env.Admin.Create(ctx, argoStage(ns, "test", ns+"-test", repo, kargoapi.Subscriptions{Warehouse: "w"})); err != nil {
		b.Fatal(err)
	}
	i := 0
	promoteOnce := func() time.Duration {
		i++
		f := objects.Freight(ns, objects.Image("nginx", fmt.Sprintf("9.0.%d", i)))
		if err := env.Admin.Create(ctx, f); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		p := &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "test-", Namespace: ns},
			Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: f.Name},
		}
		if err := env.Admin.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			got := &kargoapi.Freight{}
			if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(f), got); err != nil {
				b.Fatal(err)
			}
			if _, ok := got.Status.VerifiedIn["test"]; ok {
				return time.Since(start)
			}
			if time.Now().After(deadline) {
				b.Fatalf("Freight %s not verified in a minute", f.Name)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// The first promotion also starts the controllers' caches of
	// Applications and the webhooks' connections, and Argo CD's first
	// clone of the repository; it is reported apart.
	first := promoteOnce()
	var lat []time.Duration
	for b.Loop() {
		lat = append(lat, promoteOnce())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(float64(first.Milliseconds()), "first-ms")
}
