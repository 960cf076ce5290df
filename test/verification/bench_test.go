package verification

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/argocdsim"
)

// BenchmarkPromotionToVerified measures, for a Stage with one Argo CD
// Application, the time from creating a Promotion to the Freight being
// verified in the Stage: the Application update, the (simulated) sync, the
// health aggregation and the verification, end to end through the API
// server. The simulator answers within its 50 ms polling period, as a real
// Argo CD answers within its own reconciliation delay.
func BenchmarkPromotionToVerified(b *testing.B) {
	ctx := context.Background()
	ns := env.NewProject(b, "bench")
	if err := env.Admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	sim := &argocdsim.Sim{Client: env.Admin, Namespace: "argocd"}
	sim.Start(b)
	application(b, ns+"-test", ns, "test")
	if err := env.Admin.Create(ctx, argoStage(ns, "test", ns+"-test", kargoapi.Subscriptions{Warehouse: "w"})); err != nil {
		b.Fatal(err)
	}
	i := 0
	promoteOnce := func() time.Duration {
		i++
		f := newFreight(ns, fmt.Sprintf("9.0.%d", i))
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
	// Applications and the webhooks' connections; it is reported apart.
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
