package schema

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// Every manifest on the Concepts page applies with kubectl exactly as
// printed, and the objects hold what the page says.
func TestSeedManifestsApplyUnchanged(t *testing.T) {
	ctx := context.Background()
	ensureKargoDemo(t)

	root, err := kubetest.RepoRoot()
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "seeds", "*.yaml"))
	require.NoError(t, err)
	sort.Strings(files)
	require.Len(t, files, 8)
	for _, f := range files {
		if filepath.Base(f) == clusterRoleExcerpt {
			continue // an excerpt of a pre-defined role; see TestSeedClusterRoleIsPredefined
		}
		out, err := env.Kubectl("apply", "-f", f)
		require.NoError(t, err, "kubectl apply -f %s:\n%s", filepath.Base(f), out)
		t.Logf("%s: %s", filepath.Base(f), out)
	}

	stage := &kargoapi.Stage{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: "kargo-demo", Name: "test"}, stage))
	require.Equal(t, "https://github.com/example/kargo-demo.git", string(stage.Spec.Subscriptions.Repos.Git[0].RepoURL))
	require.Equal(t, "main", string(stage.Spec.Subscriptions.Repos.Git[0].Branch))
	require.Equal(t, "nginx", string(stage.Spec.Subscriptions.Repos.Images[0].RepoURL))
	require.Equal(t, "^1.24.0", string(stage.Spec.Subscriptions.Repos.Images[0].SemverConstraint))
	require.Equal(t, kargoapi.ImageSelectionSemVer, stage.Spec.Subscriptions.Repos.Images[0].ImageSelectionStrategy)
	update := stage.Spec.PromotionMechanisms.GitRepoUpdates[0]
	require.Equal(t, "stages/test", string(update.WriteBranch))
	require.Equal(t, "nginx", string(update.Kustomize.Images[0].Image))
	require.Equal(t, "stages/test", string(update.Kustomize.Images[0].Path))
	require.Equal(t, "kargo-demo-test", stage.Spec.PromotionMechanisms.ArgoCDAppUpdates[0].AppName)
	require.Equal(t, "argocd", stage.Spec.PromotionMechanisms.ArgoCDAppUpdates[0].AppNamespace)

	promo := &kargoapi.Promotion{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: "kargo-demo", Name: "test-to-404df86560cab5d515e7aa74653e665c1dc96e1c"}, promo))
	require.Equal(t, kargoapi.PromotionSpec{Stage: "test", Freight: "404df86560cab5d515e7aa74653e665c1dc96e1c"}, promo.Spec)

	policy := &kargoapi.PromotionPolicy{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: "kargo-demo", Name: "test"}, policy))
	require.Equal(t, "test", policy.Stage)
	require.True(t, policy.EnableAutoPromotion)

	// bob's Role names the uat Stage for the promote verb, as the page shows.
	role := &rbacv1.Role{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: "kargo-demo", Name: "uat-promoter"}, role))
	require.Equal(t, []string{"uat"}, role.Rules[1].ResourceNames)
	require.Equal(t, []string{"promote"}, role.Rules[1].Verbs)

	// Applying the same files again changes nothing. (The first two Stage
	// manifests are earlier versions of the third, so they are left out.
	// kubectl may still say "configured": it replaces whole lists in custom
	// resources, and the server's defaults inside list items differ from
	// the file; the stored object stays the same.)
	before := resourceVersions(t, stage, promo, policy, role)
	for _, f := range files[2:] {
		if filepath.Base(f) == clusterRoleExcerpt {
			continue
		}
		out, err := env.Kubectl("apply", "-f", f)
		require.NoError(t, err, "re-apply %s:\n%s", filepath.Base(f), out)
	}
	require.Equal(t, before, resourceVersions(t, stage, promo, policy, role))
}

func resourceVersions(t *testing.T, objs ...client.Object) []string {
	t.Helper()
	var rvs []string
	for _, o := range objs {
		fresh := o.DeepCopyObject().(client.Object)
		require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(o), fresh))
		rvs = append(rvs, fresh.GetResourceVersion())
	}
	return rvs
}

// clusterRoleExcerpt is the page's kargo-promoter ClusterRole. The page
// elides part of it with a "- # ..." list item, which YAML reads as an empty
// rule that Kubernetes itself refuses; the page calls the role
// "pre-defined", and every installation provides it (config/rbac).
const clusterRoleExcerpt = "concepts-06-clusterrole-kargo-promoter.yaml"

// The kargo-promoter ClusterRole the page shows is installed already, with
// every rule of the excerpt, and the excerpt's rules apply once the elision
// placeholder is taken out.
func TestSeedClusterRoleIsPredefined(t *testing.T) {
	ctx := context.Background()
	root, err := kubetest.RepoRoot()
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(root, "config", "samples", "seeds", clusterRoleExcerpt))
	require.NoError(t, err)

	installed := &rbacv1.ClusterRole{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: "kargo-promoter"}, installed))
	excerpt := &rbacv1.ClusterRole{}
	require.NoError(t, yaml.Unmarshal(raw, excerpt))
	var shown []rbacv1.PolicyRule
	for _, r := range excerpt.Rules {
		if len(r.Verbs) > 0 { // skip the "- # ..." placeholder
			shown = append(shown, r)
		}
	}
	require.Len(t, shown, 2)
	for _, r := range shown {
		require.Contains(t, installed.Rules, r, "the installed kargo-promoter lacks a rule the page shows")
	}

	// The excerpt itself, without the placeholder line, applies unchanged
	// otherwise (to a copy, so as not to change the installed role).
	text := strings.Replace(string(raw), "- # ...\n", "", 1)
	text = strings.Replace(text, "name: kargo-promoter", "name: kargo-promoter-excerpt", 1)
	f := filepath.Join(t.TempDir(), "role.yaml")
	require.NoError(t, os.WriteFile(f, []byte(text), 0o600))
	out, err := env.Kubectl("apply", "-f", f)
	require.NoError(t, err, out)
}
