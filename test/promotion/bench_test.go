package promotion

import (
	"context"
	"fmt"
	"testing"

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
	if err := env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec:       stageSpec(gs.RepoURL("gitops"), "nginx", "test", kargoapi.Subscriptions{Warehouse: objects.DefaultWarehouse}, false),
	}); err != nil {
		b.Fatal(err)
	}
	env.BenchPromotions(b, ns, "test", func(i int) *kargoapi.Freight {
		return objects.Freight(ns, objects.Image("nginx", fmt.Sprintf("9.0.%d", i)))
	}, func(_ *kargoapi.Freight, p *kargoapi.Promotion) bool {
		if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			b.Fatal(err)
		}
		if p.Status.Phase.IsTerminal() && p.Status.Phase != kargoapi.PromotionPhaseSucceeded {
			b.Fatalf("Promotion %s: %s: %s", p.Name, p.Status.Phase, p.Status.Message)
		}
		return p.Status.Phase == kargoapi.PromotionPhaseSucceeded
	})
}
