package promotion

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/helmserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

// chartLockHelm finds a real helm binary: $HELM, or the one
// hack/argocd-bins.sh builds (v4.3.1, with Argo CD; `make test` builds it
// first). It fails the test when there is none: the lock must be checked by
// the real helm.
func chartLockHelm(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	dir, err := kubetest.HackBuilt("ARGOCD_BINS", "argocd-bins.sh", []string{"helm"})
	if err != nil {
		t.Fatalf("no helm binary (set HELM, or build it with `make argocd-bins`): %v", err)
	}
	return filepath.Join(dir, "helm")
}

// chartLockRunHelm runs helm with its configuration and caches in dir.
func chartLockRunHelm(t *testing.T, helm, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helm, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, ".cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, ".config"), "HELM_DATA_HOME="+filepath.Join(dir, ".data"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A promotion that changes a dependency's version in Chart.yaml keeps
// Chart.lock consistent with it: the real `helm dependency build` accepts
// the promoted commit and downloads the new version.
func TestChartLockFollowsChartYAML(t *testing.T) {
	helm := chartLockHelm(t)
	ctx := context.Background()
	ns := env.NewProject(t, "chartlock")
	charts := helmserver.New(t, helmserver.Options{})
	controllers.AllowOutbound(t, charts.Host())
	charts.SetCharts(helmserver.Chart{Name: "dep", Version: "1.0.0"})

	// The umbrella chart as its owner left it: Chart.lock written by helm.
	chartYAML := fmt.Sprintf("apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n  - name: dep\n    version: 1.0.0 # kargo sets this\n    repository: %s\n", charts.URL())
	work := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(work, "Chart.yaml"), []byte(chartYAML), 0o600))
	out, err := chartLockRunHelm(t, helm, work, "dependency", "update", ".")
	require.NoError(t, err, out)
	lock, err := os.ReadFile(filepath.Join(work, "Chart.lock"))
	require.NoError(t, err)

	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{"umbrella/Chart.yaml": chartYAML, "umbrella/Chart.lock": string(lock)}, "umbrella chart")

	charts.SetCharts(helmserver.Chart{Name: "dep", Version: "1.0.0"}, helmserver.Chart{Name: "dep", Version: "1.1.0"})
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Charts: []kargoapi.ChartSubscription{{RepoURL: kargoapi.ChartRepoURL(charts.URL()), Name: "dep"}},
		}},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "charts"},
			PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
				RepoURL: kargoapi.GitRepoURL(gs.RepoURL("gitops")), ReadBranch: "main", WriteBranch: "stages/test",
				Helm: &kargoapi.HelmPromotionMechanism{Charts: []kargoapi.HelmChartDependencyUpdate{{
					Repository: charts.URL(), Name: "dep", ChartPath: "umbrella",
				}}},
			}}},
		},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.PromotionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns}, Stage: "test", EnableAutoPromotion: true,
	}))
	eventually(t, time.Minute, "dep 1.1.0 promoted into test", func() (bool, string) {
		st := get(t, &kargoapi.Stage{}, ns, "test")
		return st.Status.CurrentFreight != nil && len(st.Status.CurrentFreight.Charts) == 1 && st.Status.CurrentFreight.Charts[0].Version == "1.1.0",
			fmt.Sprintf("%+v / %+v", st.Status.CurrentFreight, st.Status.LastPromotion)
	})

	promoted := t.TempDir()
	for _, name := range []string{"Chart.yaml", "Chart.lock"} {
		require.NoError(t, os.WriteFile(filepath.Join(promoted, name), []byte(gs.Show(t, "gitops", "stages/test", "umbrella/"+name)), 0o600))
	}
	require.Contains(t, gs.Show(t, "gitops", "stages/test", "umbrella/Chart.yaml"), "version: 1.1.0 # kargo sets this")
	out, err = chartLockRunHelm(t, helm, promoted, "repo", "add", "charts", charts.URL())
	require.NoError(t, err, out)
	out, err = chartLockRunHelm(t, helm, promoted, "dependency", "build", ".")
	require.NoError(t, err, "helm dependency build on the promoted commit: %s", out)
	require.FileExists(t, filepath.Join(promoted, "charts", "dep-1.1.0.tgz"))
	require.False(t, strings.Contains(out, "out of sync"), out)
}
