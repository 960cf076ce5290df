package verification

import (
	"context"
	"fmt"
	"testing"

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
	// The first promotion also starts the controllers' caches of
	// Applications and the webhooks' connections, and Argo CD's first
	// clone of the repository; it is reported apart (first-ms).
	env.BenchPromotions(b, ns, "test", func(i int) *kargoapi.Freight {
		return objects.Freight(ns, objects.Image("nginx", fmt.Sprintf("9.0.%d", i)))
	}, func(f *kargoapi.Freight, _ *kargoapi.Promotion) bool {
		got := &kargoapi.Freight{}
		if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(f), got); err != nil {
			b.Fatal(err)
		}
		_, ok := got.Status.VerifiedIn["test"]
		return ok
	})
}
