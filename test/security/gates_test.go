package security

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/audit"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// gatesUnchanged is what a read must leave as it was: the Stage's
// resourceVersion, the project's audit records and its Promotions.
func gatesUnchanged(t *testing.T, project string) map[string]any {
	t.Helper()
	return map[string]any{
		"stage":      holdsStage(t, project, "prod").ResourceVersion,
		"audit":      auditFingerprint(t, project),
		"promotions": apiserverPromotions(t, project),
	}
}

// TestGatesAttacks attacks the gates endpoint (GET .../gates, which the
// web UI reads for promotion windows) and the paging of filtered audit
// lists (which the UI's audit view uses) as the users who should learn
// less: someone who may edit Stages but not read windows (carol), nobody,
// no token, a viewer asking about someone else's rights (vera), API tokens,
// and a member of one project reaching into another. Each asserts the
// refusal (or the caller's own answer) and that nothing was written.
func TestGatesAttacks(t *testing.T) {
	srv := apiserverStart(t, server.Options{})
	ctx := context.Background()
	project, _ := apiserverProject(t, "gates")
	require.NoError(t, env.Admin.Create(ctx, objects.Stage(project, "prod", objects.SubscribesTo("w"))))
	env.BindAccessUsers(t, project)
	secret := objects.PromotionWindow(project, "board-meeting", kargoapi.PromotionWindowDeny, "Europe/Berlin", "00:00", "00:00")
	secret.Spec.Stages.Names = []string{"prod"}
	secret.Spec.Description = "the acquisition is announced on Monday"
	require.NoError(t, env.Admin.Create(ctx, secret))
	viewerSA := apiserverServiceAccount(t, project, "ci-viewer", "kargo-viewer")
	adminSA := apiserverServiceAccount(t, project, "ci-admin", "kargo-admin")
	tok := kubetest.Token
	call := func(token, path string, header ...string) apiserverResponse {
		return apiserverCall(t, srv, token, http.MethodGet, path, nil, header...)
	}
	gates := "/api/v1/projects/" + project + "/gates"
	kubetest.Eventually(t, 30*time.Second, "the server sees the window", func() (bool, string) {
		r := call(tok(kubetest.Adam), gates+"?stage=prod")
		return r.code == http.StatusOK && strings.Contains(string(r.body), "board-meeting"), string(r.body)
	})
	before := gatesUnchanged(t, project)

	t.Run("someone who may edit Stages but not read windows learns nothing of them", func(t *testing.T) {
		r := call(tok(kubetest.Carol), gates+"?stage=prod")
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
		require.Contains(t, string(r.body), "may not list promotionwindows")
		require.NotContains(t, string(r.body), "board-meeting")
		require.NotContains(t, string(r.body), "acquisition")
	})

	t.Run("nobody and no token learn nothing", func(t *testing.T) {
		for token, code := range map[string]int{tok(kubetest.Nobody): http.StatusForbidden, "": http.StatusUnauthorized, "not-a-token": http.StatusUnauthorized} {
			r := call(token, gates+"?stage=prod")
			require.Equal(t, code, r.code, string(r.body))
			require.NotContains(t, string(r.body), "board-meeting")
		}
	})

	t.Run("a viewer asking about an admin's rights is answered about themselves", func(t *testing.T) {
		r := call(tok(kubetest.Vera), gates+"?stage=prod&user="+kubetest.Adam, "Impersonate-User", kubetest.Adam, "Impersonate-Group", "system:masters")
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		var g apitypes.Gates
		require.NoError(t, json.Unmarshal(r.body, &g))
		require.False(t, g.Stages["prod"].OverrideWindow.Allowed)
		require.Contains(t, g.Stages["prod"].OverrideWindow.Reason, `user "vera" may not override-window`)
	})

	t.Run("API tokens are answered as their ServiceAccounts", func(t *testing.T) {
		for token, allowed := range map[string]bool{viewerSA: false, adminSA: true} {
			r := call(token, gates+"?stage=prod")
			require.Equal(t, http.StatusOK, r.code, string(r.body))
			var g apitypes.Gates
			require.NoError(t, json.Unmarshal(r.body, &g))
			require.Equal(t, allowed, g.Stages["prod"].OverrideWindow.Allowed, "%+v", g.Stages["prod"].OverrideWindow)
			if !allowed {
				require.Contains(t, g.Stages["prod"].OverrideWindow.Reason, `user "system:serviceaccount:`+project+`:ci-viewer"`)
			}
		}
	})

	t.Run("a member of one project learns nothing of another's windows", func(t *testing.T) {
		other, _ := apiserverProject(t, "gates-other")
		w := objects.PromotionWindow(other, "other-secret", kargoapi.PromotionWindowDeny, "UTC", "00:00", "00:00")
		require.NoError(t, env.Admin.Create(ctx, w))
		r := call(tok(kubetest.Vera), "/api/v1/projects/"+other+"/gates")
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
		require.NotContains(t, string(r.body), "other-secret")
	})

	t.Run("an audit page's continue token does not open another project's trail", func(t *testing.T) {
		other, _ := apiserverProject(t, "audit-other")
		env.Bind(t, other, kubetest.Adam, "ClusterRole", "kargo-admin")
		for i := range 3 {
			rec := audit.New(other, authenticationv1.UserInfo{Username: kubetest.Adam}, kargoapi.AuditActionRefresh,
				kargoapi.AuditTarget{Kind: "Stage", Name: "secret-stage", Stage: "secret-stage"}, nil,
				kargoapi.AuditOutcome{Result: kargoapi.AuditResultSucceeded, Code: 200}, time.Now().Add(-time.Duration(i)*time.Minute))
			require.NoError(t, env.Admin.Create(ctx, rec))
		}
		otherAudit := "/api/v1/projects/" + other + "/audit?stage=secret-stage&limit=1"
		var page apitypes.List
		kubetest.Eventually(t, 30*time.Second, "adam pages the other project's trail", func() (bool, string) {
			r := call(tok(kubetest.Adam), otherAudit)
			page = apitypes.List{}
			_ = json.Unmarshal(r.body, &page)
			return r.code == http.StatusOK && page.Continue != "", string(r.body)
		})
		r := call(tok(kubetest.Vera), otherAudit+"&continue="+page.Continue)
		require.Equal(t, http.StatusForbidden, r.code, "vera has no role there: %s", r.body)
		r = call(tok(kubetest.Vera), "/api/v1/projects/"+project+"/audit?stage=secret-stage&limit=1&continue="+page.Continue)
		require.Equal(t, http.StatusBadRequest, r.code, string(r.body))
		require.Contains(t, string(r.body), "belongs to another list")
		require.NotContains(t, string(r.body), "secret-stage\"")
		r = call(tok(kubetest.Carol), "/api/v1/projects/"+project+"/audit?stage=prod&limit=1")
		require.Equal(t, http.StatusForbidden, r.code, "carol may not read the trail, filtered or not: %s", r.body)
		require.Contains(t, string(r.body), "may not list auditrecords")
	})

	// Grant carol the right to read windows afterwards: she then gets the
	// answer, and it says she may not override (she holds no such verb).
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "window-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"promotionwindows"}, Verbs: []string{"list"}}},
	}))
	env.Bind(t, project, kubetest.Carol, "Role", "window-reader")
	// (The server remembers a refusal briefly: ask until it asks again.)
	kubetest.Eventually(t, 30*time.Second, "carol reads the gates once granted", func() (bool, string) {
		r := call(tok(kubetest.Carol), gates+"?stage=prod")
		return r.code == http.StatusOK && strings.Contains(string(r.body), `user \"carol\" may not override-window`), string(r.body)
	})

	require.Equal(t, before, gatesUnchanged(t, project), "asking wrote nothing")
}
