package security

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// The API server tells a missing project from an empty one (a 404 naming
// it), reading namespaces with its own rights: only to callers the request
// is allowed to, who hold their rights cluster-wide. Everyone else must get
// the same answer for a project that exists and one that does not.
func TestProjectsExistenceIsNotRevealed(t *testing.T) {
	srv := apiserverStart(t, server.Options{})
	mine, _ := apiserverProject(t, "projects-mine")
	other, _ := apiserverProject(t, "projects-other")
	labelled := env.NewProject(t, "projects-labelled")
	env.Bind(t, mine, kubetest.Alice, "ClusterRole", "kargo-promoter")
	const missing = "projects-missing"
	requests := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/stages", nil},
		{http.MethodGet, "/stages/test", nil},
		{http.MethodGet, "/freight?alias=x", nil},
		{http.MethodGet, "/freight/x", nil},
		{http.MethodPost, "/stages/test/promote", apitypes.PromoteRequest{FreightAlias: "x"}},
		{http.MethodPost, "/freight/x/approve", apitypes.ApproveRequest{Stage: "test"}},
		{http.MethodPost, "/warehouses/w/refresh", nil},
		{http.MethodPost, "/stages/test/verify", apitypes.VerifyRequest{}},
		{http.MethodGet, "/roles", nil},
		{http.MethodGet, "/tokens", nil},
	}
	for _, rq := range requests {
		t.Run("alice probes whether a project exists with "+rq.method+" "+rq.path, func(t *testing.T) {
			answer := func(project string) apiserverResponse {
				r := apiserverCall(t, srv, kubetest.Token(kubetest.Alice), rq.method, "/api/v1/projects/"+project+rq.path, rq.body)
				r.body = []byte(strings.ReplaceAll(string(r.body), project, "P"))
				return r
			}
			existing, absent := answer(other), answer(missing)
			require.Equal(t, http.StatusForbidden, existing.code, "%s", existing.body)
			require.Equal(t, existing, absent, "the same answer for a project that exists and one that does not")
			require.Empty(t, apiserverPromotions(t, other))
		})
	}
	// The shipped kargo-api role lets the server tell them apart for the
	// administrator: a labelled namespace is a project, a missing one is
	// not.
	r := apiserverCall(t, srv, kubetest.Token("admin"), http.MethodGet, "/api/v1/projects/"+labelled+"/stages", nil)
	require.Equal(t, http.StatusOK, r.code, "%s", r.body)
	r = apiserverCall(t, srv, kubetest.Token("admin"), http.MethodGet, "/api/v1/projects/"+missing+"/stages", nil)
	require.Equal(t, http.StatusNotFound, r.code, "%s", r.body)
	require.Contains(t, string(r.body), `project \"`+missing+`\" not found`)
}
