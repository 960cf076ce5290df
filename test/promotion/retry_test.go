package promotion

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// promotionsInto lists the Promotions into stage, by phase.
func promotionsInto(t *testing.T, ns, stage string) map[kargoapi.PromotionPhase]int {
	t.Helper()
	list := &kargoapi.PromotionList{}
	require.NoError(t, env.Admin.List(context.Background(), list, client.InNamespace(ns)))
	out := map[kargoapi.PromotionPhase]int{}
	for _, p := range list.Items {
		if p.Spec.Stage == stage {
			out[p.Status.Phase]++
		}
	}
	return out
}

// An auto-promotion that errored (the Git server answered 503) is retried
// with back-off, and succeeds once the server is back; one that failed
// because the Stage's spec is wrong is not retried.
func TestErroredAutoPromotionIsRetried(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "retry")
	flaky := gitserver.New(t)
	steady := gitserver.New(t)
	controllers.AllowOutbound(t, flaky.Host(), steady.Host())
	for _, gs := range []*gitserver.Server{flaky, steady} {
		gs.CreateRepo("gitops")
		gs.Commit(t, "gitops", "main", map[string]string{
			"base/deployment.yaml":           "kind: Deployment\n",
			"stages/test/kustomization.yaml": kustomization,
		}, "initial layout")
	}
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "nginx", "1.24.0", registry.Image{})
	image := reg.Host() + "/nginx"
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image)}},
		}},
	}))
	flakySpec := stageSpec(flaky.RepoURL("gitops"), image, "test", kargoapi.Subscriptions{Warehouse: "w"}, false)
	// A kustomization directory that does not exist: the spec is wrong.
	wrongSpec := stageSpec(steady.RepoURL("gitops"), image, "test", kargoapi.Subscriptions{Warehouse: "w"}, false)
	wrongSpec.PromotionMechanisms.GitRepoUpdates[0].Kustomize.Images[0].Path = "stages/missing"
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "flaky", Namespace: ns}, Spec: flakySpec}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "wrong", Namespace: ns}, Spec: wrongSpec}))

	flaky.Fail(http.StatusServiceUnavailable)
	for _, stage := range []string{"flaky", "wrong"} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.PromotionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: stage, Namespace: ns}, Stage: stage, EnableAutoPromotion: true,
		}))
	}
	eventually(t, time.Minute, "the first auto-promotions end", func() (bool, string) {
		f, w := promotionsInto(t, ns, "flaky"), promotionsInto(t, ns, "wrong")
		return f[kargoapi.PromotionPhaseErrored] >= 1 && w[kargoapi.PromotionPhaseFailed] == 1, fmt.Sprintf("flaky %v, wrong %v", f, w)
	})
	flaky.Fail(0)
	eventually(t, 2*time.Minute, "the errored auto-promotion is retried and succeeds", func() (bool, string) {
		st := get(t, &kargoapi.Stage{}, ns, "flaky")
		return st.Status.CurrentFreight != nil, fmt.Sprintf("%v; phase %s", promotionsInto(t, ns, "flaky"), st.Status.Phase)
	})
	require.Contains(t, flaky.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "newTag: 1.24.0")
	// The retry came after a back-off at least as long as the first; by
	// now a retry of the failed one would have come too.
	require.Equal(t, map[kargoapi.PromotionPhase]int{kargoapi.PromotionPhaseFailed: 1}, promotionsInto(t, ns, "wrong"))
	require.Nil(t, get(t, &kargoapi.Stage{}, ns, "wrong").Status.CurrentFreight)
}
