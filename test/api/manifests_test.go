package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/apitypes"
)

// promotionManifest is a Promotion of freight to stage in kargo-demo, in
// YAML as a user writes it.
func promotionManifest(name, stage, freight string) string {
	return fmt.Sprintf(`apiVersion: kargo.akuity.io/v1alpha1
kind: Promotion
metadata:
  name: %s
  namespace: kargo-demo
spec:
  stage: %s
  freight: %s
`, name, stage, freight)
}

// outcome is what a test expects of one object: an action, or the code of
// its refusal.
type outcome struct {
	action string
	code   int32
}

func requireOutcomes(t *testing.T, res apitypes.ManifestResult, want ...outcome) {
	t.Helper()
	require.Len(t, res.Results, len(want))
	for i, w := range want {
		got := res.Results[i]
		if w.code != 0 {
			require.NotNil(t, got.Error, "object %d (%s) was %s", i, got.Name, got.Action)
			require.Equal(t, w.code, got.Error.Code, "object %d: %s", i, got.Error.Message)
			require.Empty(t, got.Action)
			continue
		}
		require.Nil(t, got.Error, "object %d (%s): %v", i, got.Name, got.Error)
		require.Equal(t, w.action, got.Action, "object %d (%s)", i, got.Name)
	}
}

// TestManifestsAsTheCaller: bob applies, creates and deletes Promotions;
// the one to prod is refused by the webhook (he may not promote there)
// while the others go through.
func TestManifestsAsTheCaller(t *testing.T) {
	f := demoFreight(t)
	short := f.Name[:7]
	docs := []string{
		promotionManifest("uat-a-"+short, "uat", f.Name),
		promotionManifest("prod-"+short, "prod", f.Name),
		promotionManifest("uat-b-"+short, "uat", f.Name),
	}
	manifests := "---\n" + strings.Join(docs, "---\n")

	res := decode[apitypes.ManifestResult](t, call(t, bob, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: manifests}), http.StatusOK)
	requireOutcomes(t, res, outcome{action: "created"}, outcome{code: http.StatusForbidden}, outcome{action: "created"})
	require.Contains(t, res.Results[1].Error.Message, `may not promote to Stage "prod"`)
	require.Equal(t, "Promotion", res.Results[0].Kind)
	require.Equal(t, demo, res.Results[0].Namespace)
	require.Equal(t, "uat-a-"+short, res.Results[0].Name)

	res = decode[apitypes.ManifestResult](t, call(t, bob, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: manifests}), http.StatusOK)
	requireOutcomes(t, res, outcome{action: "unchanged"}, outcome{code: http.StatusForbidden}, outcome{action: "unchanged"})

	res = decode[apitypes.ManifestResult](t, call(t, bob, http.MethodPost, "/api/v1/create", apitypes.ManifestRequest{Manifests: manifests}), http.StatusOK)
	requireOutcomes(t, res, outcome{code: http.StatusConflict}, outcome{code: http.StatusForbidden}, outcome{code: http.StatusConflict})

	res = decode[apitypes.ManifestResult](t, call(t, bob, http.MethodPost, "/api/v1/delete", apitypes.ManifestRequest{Manifests: manifests}), http.StatusOK)
	requireOutcomes(t, res, outcome{action: "deleted"}, outcome{code: http.StatusNotFound}, outcome{action: "deleted"})

	res = decode[apitypes.ManifestResult](t, call(t, bob, http.MethodPost, "/api/v1/create", apitypes.ManifestRequest{Manifests: manifests}), http.StatusOK)
	requireOutcomes(t, res, outcome{action: "created"}, outcome{code: http.StatusForbidden}, outcome{action: "created"})
}

// TestApplyConfigures: a changed object is configured, and a kind bob's
// roles do not cover is refused by RBAC, before the API server is asked.
func TestApplyConfigures(t *testing.T) {
	kargoDemo(t)
	warehouse := func(interval string) string {
		return `{"apiVersion":"kargo.akuity.io/v1alpha1","kind":"Warehouse","metadata":{"name":"applied","namespace":"kargo-demo"},` +
			`"spec":{"interval":"` + interval + `","subscriptions":{"images":[{"repoURL":"registry.invalid/applied"}]}}}`
	}
	res := decode[apitypes.ManifestResult](t, call(t, adam, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: warehouse("1h")}), http.StatusOK)
	requireOutcomes(t, res, outcome{action: "created"})
	res = decode[apitypes.ManifestResult](t, call(t, adam, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: warehouse("2h")}), http.StatusOK)
	requireOutcomes(t, res, outcome{action: "configured"})

	res = decode[apitypes.ManifestResult](t, call(t, bob, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: warehouse("3h")}), http.StatusOK)
	requireOutcomes(t, res, outcome{code: http.StatusForbidden})
	require.Contains(t, res.Results[0].Error.Message, `user "bob" may not patch warehouses.kargo.akuity.io "applied"`)

	res = decode[apitypes.ManifestResult](t, call(t, adam, http.MethodPost, "/api/v1/delete", apitypes.ManifestRequest{Manifests: warehouse("2h")}), http.StatusOK)
	requireOutcomes(t, res, outcome{action: "deleted"})
}

func TestManifestErrors(t *testing.T) {
	kargoDemo(t)
	for _, c := range []struct{ name, manifests, want string }{
		{"empty", "---\n", "no object"},
		{"not yaml", "kind: [", "document 1"},
		{"no kind", "apiVersion: v1\nmetadata:\n  name: x\n", "no apiVersion or kind"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := refusal(t, call(t, adam, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: c.manifests}), http.StatusBadRequest)
			require.Contains(t, s.Message, c.want)
		})
	}
	res := decode[apitypes.ManifestResult](t, call(t, adam, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{
		Manifests: "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: homeless\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: kargo-demo\n",
	}), http.StatusOK)
	requireOutcomes(t, res, outcome{code: http.StatusBadRequest}, outcome{code: http.StatusNotFound})
	require.Contains(t, res.Results[0].Error.Message, "metadata.namespace")
	require.Contains(t, res.Results[1].Error.Message, "Widget")
}

// TestDryRun: the editor's validation. A dry run reports what apply would
// do, or the API server's refusal (schema, webhook, RBAC), and writes
// nothing; nobody deletes in a dry run.
func TestDryRun(t *testing.T) {
	kargoDemo(t)
	warehouse := func(interval string) string {
		return "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: dry\n  namespace: kargo-demo\nspec:\n  interval: " + interval +
			"\n  subscriptions:\n    images:\n    - repoURL: registry.invalid/dry\n"
	}
	res := decode[apitypes.ManifestResult](t, call(t, adam, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: warehouse("1h"), DryRun: true}), http.StatusOK)
	requireOutcomes(t, res, outcome{action: "created"})
	refusal(t, call(t, adam, http.MethodGet, "/api/v1/projects/kargo-demo/warehouses/dry", nil), http.StatusNotFound)

	res = decode[apitypes.ManifestResult](t, call(t, adam, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: warehouse("soon"), DryRun: true}), http.StatusOK)
	requireOutcomes(t, res, outcome{code: http.StatusUnprocessableEntity})
	require.Contains(t, res.Results[0].Error.Message, "spec.interval")

	res = decode[apitypes.ManifestResult](t, call(t, bob, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: warehouse("1h"), DryRun: true}), http.StatusOK)
	requireOutcomes(t, res, outcome{code: http.StatusForbidden})
	require.Contains(t, res.Results[0].Error.Message, `user "bob" may not patch warehouses.kargo.akuity.io "dry"`)

	s := refusal(t, call(t, adam, http.MethodPost, "/api/v1/delete", apitypes.ManifestRequest{Manifests: warehouse("1h"), DryRun: true}), http.StatusBadRequest)
	require.Contains(t, s.Message, "does not delete")
}
