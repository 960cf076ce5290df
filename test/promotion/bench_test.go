package promotion

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// BenchmarkMechanismPromotion measures, for a Stage with the seed's
// promotionMechanisms (one gitRepoUpdate setting a kustomize image, from
// main into a Stage branch), the time from creating a Promotion to the
// Promotion Succeeded, through the API server, the admission webhooks and
// the real controller, against the in-process Git server.
func BenchmarkMechanismPromotion(b *testing.B) {
	ctx := context.Background()
	ns := env.NewProject(b, "bench-mech")
	gs := gitserver.New(b)
	controllers.AllowOutbound(b, gs.Host())
	gs.CreateRepo("gitops")
	gs.Commit(b, "gitops", "main", map[string]string{
		"base/deployment.yaml":           "kind: Deployment\n",
		"stages/test/kustomization.yaml": kustomization,
	}, "initial layout")
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec:       stageSpec(gs.RepoURL("gitops"), "nginx", "test", kargoapi.Subscriptions{Warehouse: objects.DefaultWarehouse}, false),
	}
	if err := env.Admin.Create(ctx, st); err != nil {
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
			if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
				b.Fatal(err)
			}
			switch {
			case p.Status.Phase == kargoapi.PromotionPhaseSucceeded:
				return time.Since(start)
			case p.Status.Phase.IsTerminal():
				b.Fatalf("Promotion %s: %s: %s", p.Name, p.Status.Phase, p.Status.Message)
			case time.Now().After(deadline):
				b.Fatalf("Promotion %s did not end in a minute: %s", p.Name, p.Status.Message)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	promoteOnce() // the first clone of the repository into the controller's mirror
	var times []time.Duration
	b.ResetTimer()
	for b.Loop() {
		times = append(times, promoteOnce())
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(times[len(times)/2]), "p50-ms")
	b.ReportMetric(ms(times[len(times)*99/100]), "p99-ms")
}
