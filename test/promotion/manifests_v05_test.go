package promotion

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// A pipeline written the way Kargo v0.4–v0.6's documentation wrote one
// (a Warehouse whose subscriptions are a list of one-of entries with the
// fields of that era, Stages with subscriptions.warehouse and
// upstreamStages, a PromotionPolicy) applies unchanged with kubectl, in
// strict field validation, and its Freight flows.
func TestKargoV05ManifestsApplyAndFlow(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "v05")
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{
		"base/deployment.yaml":           "kind: Deployment\n",
		"stages/test/kustomization.yaml": kustomization,
		"stages/uat/kustomization.yaml":  kustomization,
	}, "initial layout")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "guestbook", "0.9.0", registry.Image{})
	reg.PushImage(t, "guestbook", "1.2.0", registry.Image{})
	image := reg.Host() + "/guestbook"
	repo := gs.RepoURL("gitops")

	manifests := fmt.Sprintf(`apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: guestbook
  namespace: %[1]s
spec:
  subscriptions:
  - image:
      repoURL: %[2]s
      semverConstraint: ^1.0.0
      strictSemvers: true
      discoveryLimit: 10
  - git:
      repoURL: %[3]s
      branch: main
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: test
  namespace: %[1]s
spec:
  subscriptions:
    warehouse: guestbook
  promotionMechanisms:
    gitRepoUpdates:
    - repoURL: %[3]s
      writeBranch: stages/test
      kustomize:
        images:
        - image: %[2]s
          path: stages/test
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: uat
  namespace: %[1]s
spec:
  subscriptions:
    upstreamStages:
    - name: test
  promotionMechanisms:
    gitRepoUpdates:
    - repoURL: %[3]s
      writeBranch: stages/uat
      kustomize:
        images:
        - image: %[2]s
          path: stages/uat
---
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionPolicy
metadata:
  name: test
  namespace: %[1]s
stage: test
enableAutoPromotion: true
`, ns, image, repo)
	file := filepath.Join(t.TempDir(), "pipeline.yaml")
	require.NoError(t, os.WriteFile(file, []byte(manifests), 0o600))
	out, err := env.Kubectl("apply", "--validate=strict", "-f", file)
	require.NoError(t, err, out)
	out, err = env.Kubectl("apply", "--validate=strict", "-f", file)
	require.NoError(t, err, out)
	require.Contains(t, out, "warehouse.kargo.akuity.io/guestbook unchanged", "applying again changes nothing")

	var first string
	eventually(t, time.Minute, "Freight auto-promoted into test", func() (bool, string) {
		st := get(t, &kargoapi.Stage{}, ns, "test")
		if st.Status.CurrentFreight == nil {
			wh := get(t, &kargoapi.Warehouse{}, ns, "guestbook")
			return false, fmt.Sprintf("Warehouse %+v; Stage %+v", wh.Status.Conditions, st.Status.LastPromotion)
		}
		first = st.Status.CurrentFreight.ID
		return true, ""
	})
	f := get(t, &kargoapi.Freight{}, ns, first)
	require.Equal(t, "1.2.0", f.Images[0].Tag)
	require.Len(t, f.Commits, 1)
	require.Contains(t, gs.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "newTag: 1.2.0")

	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "uat-" + first[:8]},
		Spec:       kargoapi.PromotionSpec{Stage: "uat", Freight: first},
	}))
	p := waitPromotion(t, ns, "uat-"+first[:8])
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	require.Contains(t, gs.Show(t, "gitops", "stages/uat", "stages/uat/kustomization.yaml"), "newTag: 1.2.0")

	// The list form is checked by the same rules as the object form.
	bad := strings.Replace(manifests, "semverConstraint: ^1.0.0", "semverConstraint: latest", 1)
	require.NoError(t, os.WriteFile(file, []byte(bad), 0o600))
	out, err = env.Kubectl("apply", "--validate=strict", "-f", file)
	require.Error(t, err)
	require.Contains(t, out, "spec.subscriptions.images[0].semverConstraint")
	require.Contains(t, out, "semverConstraint must be a semantic version range")
}
