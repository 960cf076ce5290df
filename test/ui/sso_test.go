package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/dex"
	"github.com/kargohq/kargo/internal/testutil/kargolocal"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// Single sign-on in the browser: kargo local's API server trusts a real
// Dex; Chromium signs in through Dex's login page with the authorization
// code and PKCE, as alice of group promoters (bound to kargo-promoter in
// kargo-demo), who promotes, and as mallory of group developers (bound to
// kargo-viewer), who sees the pipeline with every action disabled and the
// reason on hover (ui/e2e/sso.e2e.mjs).
func TestSingleSignOnInTheBrowser(t *testing.T) {
	chromium, script := prerequisites(t, "sso.e2e.mjs")
	apiPort := kargolocal.FreePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	const alice, mallory = "alice@example.com", "mallory@example.com"
	d := dex.Start(t, dex.Options{
		Users:          []dex.User{{Email: alice, Groups: []string{"promoters"}}, {Email: mallory, Groups: []string{"developers"}}},
		UIRedirectURIs: []string{origin + "/login/callback"},
		AllowedOrigins: []string{origin},
	})

	dataDir := filepath.Join(t.TempDir(), "state")
	l := kargolocal.Start(t, kargolocal.Options{
		Bin: kargoBin, BinDir: binDir, DataDir: dataDir, Port: kargolocal.FreePort(t), APIPort: apiPort,
		Args: []string{"--demo", "--oidc-issuer-url", d.Issuer, "--oidc-client-id", dex.UIClient, "--oidc-cli-client-id", dex.CLIClient},
	})
	c := adminClient(t, l)
	freight := demoFreight(t, c)
	ctx := context.Background()
	// What `kargo grant --role promoter --group oidc:promoters` and
	// `kargo grant --role viewer --group oidc:developers` make.
	for role, group := range map[string]string{"kargo-promoter": "oidc:promoters", "kargo-viewer": "oidc:developers"} {
		require.NoError(t, c.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}},
		}))
	}

	runScript(t, script, []string{
		"KARGO_UI_URL=" + origin,
		"KARGO_PROJECT=" + project,
		"KARGO_FREIGHT_ALIAS=" + freight.Alias,
		"KARGO_ALICE=" + alice,
		"KARGO_MALLORY=" + mallory,
		"KARGO_PASSWORD=" + dex.Password,
		"KARGO_CHROMIUM=" + chromium,
		"KARGO_SCREENSHOT_DIR=" + t.TempDir(),
	})

	// alice's Promotion, made as her prefixed identity; none of mallory's.
	kubetest.Eventually(t, time.Minute, "Freight "+freight.Name+" in Stage uat", func() (bool, string) {
		st := &kargoapi.Stage{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: project, Name: "uat"}, st); err != nil {
			return false, err.Error()
		}
		return st.Status.CurrentFreight != nil && st.Status.CurrentFreight.ID == freight.Name, fmt.Sprintf("%+v", st.Status.CurrentFreight)
	})
	var promos kargoapi.PromotionList
	require.NoError(t, c.List(ctx, &promos, client.InNamespace(project)))
	for _, p := range promos.Items {
		require.NotEqual(t, "prod", p.Spec.Stage, "mallory's Promotion into prod was refused")
	}
	l.Stop(t)
}
