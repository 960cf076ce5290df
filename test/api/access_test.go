package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
)

// TestBobApprovesForUATOnly follows the seed: bob's uat-promoter Role
// names uat only, and approval takes the promote verb on the target Stage.
func TestBobApprovesForUATOnly(t *testing.T) {
	f := demoFreight(t)
	path := "/api/v1/projects/" + demo + "/freight/" + f.Name + "/approve"

	approved := decode[kargoapi.Freight](t, call(t, bob, http.MethodPost, path, apitypes.ApproveRequest{Stage: "uat"}), http.StatusOK)
	require.Contains(t, approved.Status.ApprovedFor, "uat")

	s := refusal(t, call(t, bob, http.MethodPost, path, apitypes.ApproveRequest{Stage: "prod"}), http.StatusForbidden)
	require.Contains(t, s.Message, `user "bob"`)
	require.Contains(t, s.Message, `"promote"`)
	require.Contains(t, s.Message, `Stage "prod"`)
	require.Equal(t, metav1.StatusReasonForbidden, s.Reason)
}

// TestAlicePromotesAndApprovesEverywhere: the seed binds kargo-promoter to
// alice in kargo-demo, which holds promote on every Stage.
func TestAlicePromotesAndApprovesEverywhere(t *testing.T) {
	f := demoFreight(t)
	for _, stage := range []string{"test", "uat", "prod"} {
		t.Run(stage, func(t *testing.T) {
			promo := decode[kargoapi.Promotion](t, call(t, alice, http.MethodPost,
				"/api/v1/projects/"+demo+"/stages/"+stage+"/promote", apitypes.PromoteRequest{Freight: f.Name}), http.StatusCreated)
			require.Equal(t, stage, promo.Spec.Stage)
			require.Equal(t, f.Name, promo.Spec.Freight)
			require.Equal(t, demo, promo.Namespace)
			require.NotEmpty(t, promo.Name)

			approved := decode[kargoapi.Freight](t, call(t, alice, http.MethodPost,
				"/api/v1/projects/"+demo+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: stage}), http.StatusOK)
			require.Contains(t, approved.Status.ApprovedFor, stage)
		})
	}
}

// endpoint is one request to the API, as the tables below make it.
type endpoint struct {
	name, method, path string
	body               any
}

// mutatingEndpoints returns every endpoint that changes something, aimed
// at objects that exist, so that only the caller's rights can refuse them.
func mutatingEndpoints(t *testing.T) []endpoint {
	f := demoFreight(t)
	p := "/api/v1/projects/" + demo
	promotion := `{"apiVersion":"kargo.akuity.io/v1alpha1","kind":"Promotion","metadata":{"name":"table-` + f.Name[:7] + `","namespace":"` + demo + `"},"spec":{"stage":"test","freight":"` + f.Name + `"}}`
	return []endpoint{
		{"promote", http.MethodPost, p + "/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name}},
		{"approve", http.MethodPost, p + "/freight/" + f.Name + "/approve", apitypes.ApproveRequest{Stage: "test"}},
		{"alias", http.MethodPost, p + "/freight/" + f.Name + "/alias", apitypes.AliasRequest{Alias: "table-alias"}},
		{"refresh warehouse", http.MethodPost, p + "/warehouses/w/refresh", nil},
		{"refresh stage", http.MethodPost, p + "/stages/test/refresh", nil},
		{"verify", http.MethodPost, p + "/stages/test/verify", apitypes.VerifyRequest{}},
		{"abort verification", http.MethodPost, p + "/stages/test/verify", apitypes.VerifyRequest{Abort: true}},
		{"apply", http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: promotion}},
		{"create", http.MethodPost, "/api/v1/create", apitypes.ManifestRequest{Manifests: promotion}},
		{"delete", http.MethodPost, "/api/v1/delete", apitypes.ManifestRequest{Manifests: promotion}},
	}
}

// readEndpoints returns every endpoint that reads kargo's resources.
func readEndpoints(t *testing.T) []endpoint {
	f := demoFreight(t)
	p := "/api/v1/projects/" + demo
	eps := []endpoint{
		{"list projects", http.MethodGet, "/api/v1/projects", nil},
		{"watch projects", http.MethodGet, "/api/v1/projects?watch=true", nil},
		{"get project", http.MethodGet, p, nil},
		{"get freight by alias", http.MethodGet, p + "/freight/some-alias", nil},
		{"list freight by alias", http.MethodGet, p + "/freight?alias=some-alias", nil},
	}
	names := map[string]string{"warehouses": "w", "stages": "test", "freight": f.Name, "promotions": "any", "promotionpolicies": "any"}
	for kind, name := range names {
		eps = append(eps,
			endpoint{"list " + kind, http.MethodGet, p + "/" + kind, nil},
			endpoint{"page of " + kind, http.MethodGet, p + "/" + kind + "?limit=1", nil},
			endpoint{"watch " + kind, http.MethodGet, p + "/" + kind + "?watch=true", nil},
			endpoint{"get " + kind, http.MethodGet, p + "/" + kind + "/" + name, nil},
		)
	}
	return eps
}

// TestNobodyIsRefusedEverything: a user with no binding gets a 403 from
// every endpoint that reads or writes, and no token gets a 401 saying to
// log in.
func TestNobodyIsRefusedEverything(t *testing.T) {
	for _, ep := range mutatingEndpoints(t) {
		t.Run("nobody/"+ep.name, func(t *testing.T) {
			r := call(t, nobody, ep.method, ep.path, ep.body)
			var s metav1.Status
			if ep.path == "/api/v1/apply" || ep.path == "/api/v1/create" || ep.path == "/api/v1/delete" {
				// Manifests report each object's refusal.
				res := decode[apitypes.ManifestResult](t, r, http.StatusOK)
				require.Len(t, res.Results, 1)
				require.NotNil(t, res.Results[0].Error, "the object was %s", res.Results[0].Action)
				s = *res.Results[0].Error
			} else {
				s = refusal(t, r, http.StatusForbidden)
			}
			require.Equal(t, int32(http.StatusForbidden), s.Code, s.Message)
			require.Contains(t, s.Message, `user "nobody" may not`)
		})
	}
	for _, ep := range mutatingEndpoints(t) {
		t.Run("no token/"+ep.name, func(t *testing.T) {
			s := refusal(t, call(t, anonymous, ep.method, ep.path, ep.body), http.StatusUnauthorized)
			require.Contains(t, s.Message, "kargo login")
		})
	}
	for _, ep := range readEndpoints(t) {
		t.Run("nobody/"+ep.name, func(t *testing.T) {
			s := refusal(t, call(t, nobody, ep.method, ep.path, ep.body), http.StatusForbidden)
			require.Contains(t, s.Message, `user "nobody" may not`)
		})
		t.Run("no token/"+ep.name, func(t *testing.T) {
			refusal(t, call(t, anonymous, ep.method, ep.path, ep.body), http.StatusUnauthorized)
		})
	}
}

// TestForbiddenNamesUserVerbResourceAndName: a refusal says exactly what
// right is missing.
func TestForbiddenNamesUserVerbResourceAndName(t *testing.T) {
	kargoDemo(t)
	s := refusal(t, call(t, nobody, http.MethodGet, "/api/v1/projects/"+demo+"/stages/prod", nil), http.StatusForbidden)
	require.Contains(t, s.Message, `user "nobody" may not get stages.kargo.akuity.io "prod" in project "kargo-demo"`)
	require.Equal(t, "prod", s.Details.Name)
	require.Equal(t, "stages", s.Details.Kind)

	s = refusal(t, call(t, alice, http.MethodPost, "/api/v1/projects/"+demo+"/warehouses/w/refresh", nil), http.StatusForbidden)
	require.Contains(t, s.Message, `user "alice" may not patch warehouses.kargo.akuity.io "w" in project "kargo-demo"`)
}

// TestBadTokenIsUnauthorized: a token the API server does not know is
// refused like none.
func TestBadTokenIsUnauthorized(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, api.URL+"/api/v1/whoami", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer not-a-token")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
}

func TestWhoAmIAndVersion(t *testing.T) {
	me := decode[apitypes.WhoAmI](t, call(t, alice, http.MethodGet, "/api/v1/whoami", nil), http.StatusOK)
	require.Equal(t, alice, me.Username)
	require.Contains(t, me.Groups, "system:authenticated")

	v := decode[apitypes.Version](t, call(t, anonymous, http.MethodGet, "/api/v1/version", nil), http.StatusOK)
	require.NotEmpty(t, v.Version)
	require.NotEmpty(t, v.GoVersion)
}

// TestViewerReads: vera's kargo-viewer binding lets her read the project
// but not change it.
func TestViewerReads(t *testing.T) {
	f := demoFreight(t)
	p := "/api/v1/projects/" + demo
	stages := decode[apitypes.List](t, call(t, vera, http.MethodGet, p+"/stages", nil), http.StatusOK)
	require.Equal(t, "StageList", stages.Kind)
	names := []string{}
	for _, st := range objectsOf[kargoapi.Stage](t, stages) {
		names = append(names, st.Name)
		require.Equal(t, "Stage", st.Kind)
		require.Equal(t, kargoapi.GroupVersion.String(), st.APIVersion)
	}
	require.Subset(t, names, []string{"prod", "test", "uat"})

	got := decode[kargoapi.Freight](t, call(t, vera, http.MethodGet, p+"/freight/"+f.Name, nil), http.StatusOK)
	require.Equal(t, f.Name, got.Name)
	require.Empty(t, got.ManagedFields)

	s := refusal(t, call(t, vera, http.MethodPost, p+"/stages/test/verify", apitypes.VerifyRequest{}), http.StatusForbidden)
	require.Contains(t, s.Message, `"promote"`)
}
