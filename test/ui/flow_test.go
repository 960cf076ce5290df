package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kargolocal"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

const (
	// flowStage is the Stage the flow test adds to the demo: a promotion
	// window closes it, and alice may override the window there only.
	flowStage = "ui-window"
	// flowWindow closes flowStage and uat now, for three hours, in Berlin.
	flowWindow = "ui-change-freeze"
	// flowLater closes test in three hours, for an hour.
	flowLater = "ui-later"
	// flowAuditless is the ServiceAccount that reads the project but not
	// its audit trail.
	flowAuditless = "ui-auditless"
)

// The audit trail and the promotion windows in the browser, as alice (a
// promoter, who may override the window of flowStage only), bob (a viewer
// who may promote into uat only) and an API token that may read the
// project but not its audit trail: the windows on the Stage cards and
// pages, Promote disabled with the server's reason or overriding the
// window explicitly, the audit view with its filters and its JSON-lines
// export, and the refusals. ui/e2e/flow.e2e.mjs drives the browser.
func TestFlowControlInTheBrowser(t *testing.T) {
	chromium, script := prerequisites(t, "flow.e2e.mjs")

	dataDir := filepath.Join(t.TempDir(), "state")
	l := kargolocal.Start(t, kargolocal.Options{Bin: kargoBin, BinDir: binDir, DataDir: dataDir, Port: kargolocal.FreePort(t), Args: []string{"--demo"}})
	uiURL, err := l.UIURL()
	require.NoError(t, err)
	c := adminClient(t, l)
	freight := demoFreight(t, c)
	ctx := context.Background()

	require.NoError(t, c.Create(ctx, objects.Stage(project, flowStage, objects.SubscribesTo(project))))
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	now := time.Now().In(berlin)
	freeze := objects.PromotionWindow(project, flowWindow, kargoapi.PromotionWindowDeny, "Europe/Berlin",
		now.Add(-time.Hour).Format("15:04"), now.Add(3*time.Hour).Format("15:04"))
	freeze.Spec.Stages.Names = []string{flowStage, "uat"}
	freeze.Spec.Description = "change freeze for the UI test"
	require.NoError(t, c.Create(ctx, freeze))
	newYork, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	nowNY := time.Now().In(newYork)
	later := objects.PromotionWindow(project, flowLater, kargoapi.PromotionWindowDeny, "America/New_York",
		nowNY.Add(3*time.Hour).Format("15:04"), nowNY.Add(4*time.Hour).Format("15:04"))
	later.Spec.Stages.Names = []string{"test"}
	require.NoError(t, c.Create(ctx, later))

	// alice may override the window of flowStage, and of no other Stage.
	require.NoError(t, c.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "ui-window-override"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"stages"}, ResourceNames: []string{flowStage}, Verbs: []string{kargoapi.OverrideWindowVerb},
		}},
	}))
	require.NoError(t, c.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "alice-ui-window-override"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "ui-window-override"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}},
	}))
	auditless := flowAuditlessToken(t, c)

	token := func(user string) string {
		b, err := os.ReadFile(filepath.Join(dataDir, "users", user+".token"))
		require.NoError(t, err, "kargo local --demo gives %s a token", user)
		return strings.TrimSpace(string(b))
	}
	screenshots := t.TempDir()
	if os.Getenv("KARGO_UPDATE_DOCS") == "1" {
		screenshots = filepath.Join(root, "docs")
	}
	runScript(t, script, []string{
		"KARGO_UI_URL=" + uiURL,
		"KARGO_PROJECT=" + project,
		"KARGO_ALICE_TOKEN=" + token("alice"),
		"KARGO_BOB_TOKEN=" + token("bob"),
		"KARGO_AUDITLESS_TOKEN=" + auditless,
		"KARGO_AUDITLESS_USER=system:serviceaccount:" + project + ":" + flowAuditless,
		"KARGO_WINDOW_STAGE=" + flowStage,
		"KARGO_WINDOW=" + flowWindow,
		"KARGO_LATER_WINDOW=" + flowLater,
		"KARGO_FREIGHT_NAME=" + freight.Name,
		"KARGO_CHROMIUM=" + chromium,
		"KARGO_SCREENSHOT_DIR=" + screenshots,
	})

	// What the UI did: alice's one Promotion into flowStage, overriding the
	// window as alice; none into uat.
	var promos kargoapi.PromotionList
	require.NoError(t, c.List(ctx, &promos, client.InNamespace(project)))
	var into []kargoapi.Promotion
	for _, p := range promos.Items {
		require.NotEqual(t, "uat", p.Spec.Stage, "nobody promoted through uat's closed window")
		if p.Spec.Stage == flowStage {
			into = append(into, p)
		}
	}
	require.Len(t, into, 1)
	require.Equal(t, kargoapi.LabelTrueValue, into[0].Annotations[kargoapi.OverrideWindowAnnotationKey])
	require.Equal(t, "alice", into[0].Annotations[kargoapi.PromotionCreatedByAnnotationKey])
	require.Equal(t, freight.Name, into[0].Spec.Freight)
	l.Stop(t)
}

// flowAuditlessToken returns a token of a ServiceAccount in the project
// that may read what the project view reads (Stages, Warehouses, Freight,
// Promotions, PromotionWindows) but not the audit trail.
func flowAuditlessToken(t *testing.T, c client.Client) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: flowAuditless}}
	require.NoError(t, c.Create(ctx, sa))
	require.NoError(t, c.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: flowAuditless},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{kargoapi.GroupVersion.Group},
			Resources: []string{"stages", "warehouses", "freights", "promotions", "promotionwindows"},
			Verbs:     []string{"get", "list", "watch"},
		}},
	}))
	require.NoError(t, c.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: flowAuditless},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: flowAuditless},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: flowAuditless, Namespace: project}},
	}))
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(3600))}}
	require.NoError(t, c.SubResource("token").Create(ctx, sa, tr))
	require.NotEmpty(t, tr.Status.Token)
	return tr.Status.Token
}

func ptrTo[T any](v T) *T { return &v }
