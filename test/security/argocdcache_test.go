package security

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// Issue 20: Stage health is read from the controller's cache of every
// Application it may watch, other teams' included. An Application whose
// owner withdraws its opt-in (handing it to another team's Stage, which
// then deploys a broken version) stops being read at once: nothing Argo CD
// says about it afterwards reaches the Stage, and reading it writes
// nothing to it.
func TestArgoCDCacheHealthFollowsAWithdrawnOptIn(t *testing.T) {
	ctx := context.Background()
	ns := admissionProject(t, "appcache")
	app := ns + "-shared"
	admissionApplication(t, app, ns+":own", "Healthy", "")
	own := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "own", Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions:       &kargoapi.Subscriptions{Warehouse: "w"},
			PromotionMechanisms: &kargoapi.PromotionMechanisms{ArgoCDAppUpdates: []kargoapi.ArgoCDAppUpdate{{AppName: app}}},
		},
	}
	adam := env.As(t, kubetest.Adam)
	require.NoError(t, adam.Create(ctx, own))
	f := objects.Freight(ns, objects.Image("nginx", "3.1.0"))
	f.Alias = "appcache-own"
	require.NoError(t, env.Admin.Create(ctx, f))
	require.NoError(t, adam.Create(ctx, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "own", Namespace: ns}, Spec: kargoapi.PromotionSpec{Stage: "own", Freight: f.Name}}))
	// No Argo CD runs here: the test plays it, ending the sync kargo asked
	// for.
	key := client.ObjectKey{Namespace: "argocd", Name: app}
	kubetest.Eventually(t, time.Minute, "own holds the Freight", func() (bool, string) {
		st := admissionStage(t, ns, "own")
		return st.Status.CurrentFreight != nil && st.Status.Health != nil, fmt.Sprintf("%+v", st.Status)
	})
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(argocdv1.GroupVersion.WithKind("Application"))
	require.NoError(t, env.Admin.Get(ctx, key, u))
	delete(u.Object, "operation")
	require.NoError(t, env.Admin.Update(ctx, u))
	kubetest.Eventually(t, time.Minute, "own is Healthy through its Application", func() (bool, string) {
		st := admissionStage(t, ns, "own")
		return st.Status.Health != nil && st.Status.Health.Status == kargoapi.HealthStateHealthy, fmt.Sprintf("%+v", st.Status.Health)
	})

	// The Application's owner hands it to payments:prod, which breaks it.
	require.NoError(t, env.Admin.Get(ctx, key, u))
	u.SetAnnotations(map[string]string{kargoapi.AuthorizedStageAnnotationKey: "payments:prod"})
	u.Object["status"] = map[string]any{
		"health": map[string]any{"status": "Degraded", "message": "postgres://payments:hunter2@db.payments:5432 refused"},
		"sync":   map[string]any{"status": "Synced"},
	}
	require.NoError(t, env.Admin.Update(ctx, u))
	handed := u.GetResourceVersion()

	var h *kargoapi.Health
	kubetest.Eventually(t, time.Minute, "own's health is no longer read", func() (bool, string) {
		h = admissionStage(t, ns, "own").Status.Health
		return h != nil && h.Status == kargoapi.HealthStateUnknown, fmt.Sprintf("%+v", h)
	})
	require.Len(t, h.Issues, 1)
	require.True(t, strings.Contains(h.Issues[0], "does not let Stage "+ns+"/own change it, so its health is not read"), h.Issues[0])
	status := fmt.Sprintf("%+v", admissionStage(t, ns, "own").Status)
	require.NotContains(t, status, "hunter2", "nothing Argo CD says about the Application reached the Stage")
	require.NotContains(t, status, "Degraded")
	require.NotContains(t, status, "payments:prod", "the Stage the Application now belongs to is not revealed")

	after := &argocdv1.Application{}
	require.NoError(t, env.Admin.Get(ctx, key, after))
	require.Equal(t, handed, after.ResourceVersion, "reading the Application's health wrote nothing to it")
}
