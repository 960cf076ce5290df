package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// gatesOf asks, as user, whether promotions may start in project's Stages.
func gatesOf(t *testing.T, user, project, query string) apitypes.Gates {
	t.Helper()
	return decode[apitypes.Gates](t, call(t, user, http.MethodGet, "/api/v1/projects/"+project+"/gates"+query, nil), http.StatusOK)
}

// TestGatesAnswerAsTheControllerDecides: the gates of a project's Stages
// as a viewer (vera), an admin (adam), someone who may edit Stages but not
// read windows (carol) and nobody: which window decides, in its time zone,
// when that changes, a hold before the window, and who may override.
func TestGatesAnswerAsTheControllerDecides(t *testing.T) {
	ctx := context.Background()
	project := env.NewProject(t, "gates")
	env.BindAccessUsers(t, project)
	for _, name := range []string{"test", "prod"} {
		require.NoError(t, env.Admin.Create(ctx, objects.Stage(project, name, objects.SubscribesTo("w"))))
	}
	closed := objects.PromotionWindow(project, "prod-closed", kargoapi.PromotionWindowDeny, "Europe/Berlin", "00:00", "00:00")
	closed.Spec.Stages.Names = []string{"prod"}
	closed.Spec.Description = "prod is closed for the test"
	require.NoError(t, env.Admin.Create(ctx, closed))
	// A deny window on test that opens in two hours (UTC), for an hour.
	opens := time.Now().UTC().Add(2 * time.Hour).Truncate(time.Minute)
	later := objects.PromotionWindow(project, "test-later", kargoapi.PromotionWindowDeny, "UTC", opens.Format("15:04"), opens.Add(time.Hour).Format("15:04"))
	later.Spec.Stages.Names = []string{"test"}
	require.NoError(t, env.Admin.Create(ctx, later))

	var g apitypes.Gates
	kubetest.Eventually(t, 30*time.Second, "the server's cache holds both Stages and both windows", func() (bool, string) {
		g = gatesOf(t, vera, project, "")
		return len(g.Stages) == 2 && g.Stages["test"].Windows.Selecting == 1 && g.Stages["prod"].Windows.Selecting == 1, fmt.Sprintf("%+v", g)
	})
	require.WithinDuration(t, time.Now(), g.Now.Time, time.Minute)

	prod := g.Stages["prod"]
	require.False(t, prod.Open)
	require.Equal(t, "Window", prod.Stop.Kind)
	require.Contains(t, prod.Stop.Message, "PromotionWindow prod-closed")
	require.False(t, prod.Windows.Open)
	require.Equal(t, &apitypes.GateWindow{Name: "prod-closed", Kind: "Deny", TimeZone: "Europe/Berlin", Description: "prod is closed for the test"}, prod.Windows.Window)
	require.Nil(t, prod.Windows.NextChange, "a window closed at every hour never opens")
	require.Nil(t, prod.OverrideWindow, "override is answered only for the Stages named")

	test := g.Stages["test"]
	require.True(t, test.Open)
	require.Nil(t, test.Stop)
	require.True(t, test.Windows.Open)
	require.Equal(t, "test-later", test.Windows.Window.Name, "the window that closes it next decides")
	require.NotNil(t, test.Windows.NextChange)
	require.Equal(t, opens, test.Windows.NextChange.UTC())

	t.Run("a viewer may not override; an admin may", func(t *testing.T) {
		g := gatesOf(t, vera, project, "?stage=prod&stage=test")
		require.Len(t, g.Stages, 2)
		require.NotNil(t, g.Stages["prod"].OverrideWindow)
		require.False(t, g.Stages["prod"].OverrideWindow.Allowed)
		require.Contains(t, g.Stages["prod"].OverrideWindow.Reason, `user "vera" may not override-window Stage "prod"`)
		require.Nil(t, g.Stages["test"].OverrideWindow, "open: nothing to override")

		g = gatesOf(t, adam, project, "?stage=prod")
		require.Len(t, g.Stages, 1)
		require.Equal(t, &apitypes.Permission{Allowed: true}, g.Stages["prod"].OverrideWindow)
	})

	t.Run("a hold stops first; the windows still say what they say", func(t *testing.T) {
		r := call(t, adam, http.MethodPost, "/api/v1/projects/"+project+"/stages/prod/hold", apitypes.HoldRequest{Reason: "bad release"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		kubetest.Eventually(t, 30*time.Second, "the hold is seen", func() (bool, string) {
			g := gatesOf(t, vera, project, "?stage=prod").Stages["prod"]
			return g.Stop != nil && g.Stop.Kind == "Hold", fmt.Sprintf("%+v", g.Stop)
		})
		g := gatesOf(t, vera, project, "?stage=prod").Stages["prod"]
		require.Contains(t, g.Stop.Message, "held by adam")
		require.False(t, g.Windows.Open)
		require.Equal(t, "prod-closed", g.Windows.Window.Name)
	})

	t.Run("refusals name what is missing", func(t *testing.T) {
		s := refusal(t, call(t, carol, http.MethodGet, "/api/v1/projects/"+project+"/gates", nil), http.StatusForbidden)
		require.Contains(t, s.Message, `user "carol" may not list promotionwindows`)
		s = refusal(t, call(t, nobody, http.MethodGet, "/api/v1/projects/"+project+"/gates", nil), http.StatusForbidden)
		require.Contains(t, s.Message, `user "nobody" may not list stages`)
		refusal(t, call(t, anonymous, http.MethodGet, "/api/v1/projects/"+project+"/gates", nil), http.StatusUnauthorized)
		refusal(t, call(t, vera, http.MethodGet, "/api/v1/projects/"+project+"/gates?stage=", nil), http.StatusBadRequest)
		refusal(t, call(t, admin, http.MethodGet, "/api/v1/projects/no-such-project/gates", nil), http.StatusNotFound)
	})
}
