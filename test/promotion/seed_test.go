package promotion

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// The Concepts page's test Stage, pointed at local servers: it discovers
// Freight from its own subscriptions, a Promotion named as on the page moves
// it in by committing to stages/test, and the status has the page's shape.
func TestSeedStage(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "seed")
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("kargo-demo")
	head := gs.Commit(t, "kargo-demo", "main", map[string]string{"stages/test/kustomization.yaml": "resources: []\n"}, "init")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "nginx", "1.24.0", registry.Image{})
	reg.PushImage(t, "nginx", "1.23.0", registry.Image{})
	repo, image := gs.RepoURL("kargo-demo"), reg.Host()+"/nginx"

	manifest := fmt.Sprintf(`
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: test
  namespace: %s
spec:
  subscriptions:
    repos:
      git:
      - repoURL: %s
        branch: main
      images:
      - repoURL: %s
        semverConstraint: ^1.24.0
  promotionMechanisms:
    gitRepoUpdates:
    - repoURL: %s
      writeBranch: stages/test
      kustomize:
        images:
        - image: %s
          path: stages/test
`, ns, repo, image, repo, image)
	st := &kargoapi.Stage{}
	require.NoError(t, yaml.UnmarshalStrict([]byte(manifest), st))
	require.NoError(t, env.Admin.Create(ctx, st))

	var id string
	eventually(t, time.Minute, "available Freight", func() (bool, string) {
		got := get(t, &kargoapi.Stage{}, ns, "test")
		if len(got.Status.AvailableFreight) == 0 {
			return false, fmt.Sprintf("%+v", got.Status.Conditions)
		}
		id = got.Status.AvailableFreight[0].ID
		return true, ""
	})
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: "test-to-" + id, Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: id},
	}))
	p := waitPromotion(t, ns, "test-to-"+id)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)

	got := get(t, &kargoapi.Stage{}, ns, "test")
	raw, err := yaml.Marshal(got.Status)
	require.NoError(t, err)
	status := string(raw)
	for _, want := range []string{
		"availableFreight:\n- alias: ",
		"  commits:\n  - author: ",
		"    branch: main\n",
		"    id: " + head + "\n",
		"    repoURL: " + repo + "\n",
		"  firstSeen: \"",
		"  id: " + id + "\n",
		"  images:\n  - digest: sha256:",
		"    repoURL: " + image + "\n    tag: 1.24.0\n",
		"currentFreight:\n",
		"history:\n- alias: ",
	} {
		require.Contains(t, status, want, "status:\n%s", status)
	}
	require.Equal(t, id, got.Status.CurrentFreight.ID)
	require.Equal(t, id, got.Status.History[0].ID)
	kust := gs.Show(t, "kargo-demo", "stages/test", "stages/test/kustomization.yaml")
	require.True(t, strings.Contains(kust, "newTag: 1.24.0"), kust)
}
