package security

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// mayiReviews is the path of the SelfSubjectAccessReviews kargo's API
// server makes as its callers.
const mayiReviews = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"

// TestMayIAttacks attacks GET /api/v1/projects/{project}/access, which
// kargo's API server (under the shipped kargo-api role, which may
// impersonate anyone) answers with SelfSubjectAccessReviews made as its
// caller: nobody may get an answer about anyone but themselves, in
// particular not about the server's own identity or an administrator, and
// asking writes nothing.
func TestMayIAttacks(t *testing.T) {
	srv, counts := apiserverStartCounting(t, server.Options{})
	project, f := apiserverProject(t, "mayi")
	viewer := apiserverServiceAccount(t, project, "viewer", "kargo-viewer")
	env.Bind(t, project, kubetest.Bob, "ClusterRole", "kargo-viewer")
	bob := kubetest.Token(kubetest.Bob)
	before := apiserverFreight(t, f).ResourceVersion
	ask := func(t *testing.T, token, query string, header ...string) apitypes.Access {
		t.Helper()
		r := apiserverCall(t, srv, token, http.MethodGet, "/api/v1/projects/"+project+"/access?stage=test"+query, nil, header...)
		require.Equal(t, http.StatusOK, r.code, "%s", r.body)
		var a apitypes.Access
		require.NoError(t, json.Unmarshal(r.body, &a))
		return a
	}
	refusedEverything := func(t *testing.T, a apitypes.Access, who string) {
		t.Helper()
		require.False(t, a.Stages["test"].Promote.Allowed, "promote")
		require.False(t, a.Stages["test"].Approve.Allowed, "approve")
		require.False(t, a.Rename.Allowed, "rename")
		require.Contains(t, a.Stages["test"].Promote.Reason, `user "`+who+`" may not promote`)
	}

	t.Run("a viewer's ServiceAccount token is answered for itself, not for the server that impersonates it", func(t *testing.T) {
		refusedEverything(t, ask(t, viewer, ""), "system:serviceaccount:"+project+":viewer")
	})

	t.Run("Impersonate-User and Impersonate-Group headers of the caller are not passed on", func(t *testing.T) {
		refusedEverything(t, ask(t, bob, "", "Impersonate-User", "admin", "Impersonate-Group", "system:masters"), "bob")
	})

	t.Run("a user= or group= parameter asks nothing about anyone else", func(t *testing.T) {
		refusedEverything(t, ask(t, bob, "&user=admin&group=system:masters"), "bob")
	})

	t.Run("an administrator's answer is an administrator's: the reviews are the caller's", func(t *testing.T) {
		a := ask(t, kubetest.Token("admin"), "")
		require.True(t, a.Stages["test"].Promote.Allowed)
		require.True(t, a.Rename.Allowed)
	})

	t.Run("no token or a bad one is refused before any review", func(t *testing.T) {
		reviews := counts.of(mayiReviews)
		for _, token := range []string{"", "not-a-token"} {
			r := apiserverCall(t, srv, token, http.MethodGet, "/api/v1/projects/"+project+"/access?stage=test", nil)
			require.Equal(t, http.StatusUnauthorized, r.code, "%s", r.body)
		}
		require.Equal(t, reviews, counts.of(mayiReviews), "no review was made")
	})

	t.Run("a question of more than 200 Stages is refused before any review", func(t *testing.T) {
		reviews := counts.of(mayiReviews)
		q := make([]string, 201)
		for i := range q {
			q[i] = "stage=s" + strings.Repeat("x", i)
		}
		r := apiserverCall(t, srv, bob, http.MethodGet, "/api/v1/projects/"+project+"/access?"+strings.Join(q, "&"), nil)
		require.Equal(t, http.StatusBadRequest, r.code, "%s", r.body)
		require.Equal(t, reviews, counts.of(mayiReviews), "no review was made")
	})

	t.Run("answers are never remembered: each question is asked afresh", func(t *testing.T) {
		reviews := counts.of(mayiReviews)
		ask(t, bob, "")
		ask(t, bob, "")
		// Each question: promote and approve on test, create promotions,
		// update freights.
		require.Equal(t, reviews+8, counts.of(mayiReviews))
	})

	require.Equal(t, before, apiserverFreight(t, f).ResourceVersion, "the Freight was not written")
	require.Empty(t, apiserverPromotions(t, project), "no Promotion was made")
}
