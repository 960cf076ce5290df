package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/apitypes"
)

// TestAccessAnswersAsTheActionsDo: GET .../access tells each user of the
// access table what the web UI may offer them, and each answer is the one
// the action gives: the same decision, and for approve the same refusal,
// word for word.
func TestAccessAnswersAsTheActionsDo(t *testing.T) {
	f := demoFreight(t)
	p := "/api/v1/projects/" + demo
	stages := []string{"test", "uat", "prod"}
	// Who holds the promote verb where (and create on promotions): the
	// seed's alice everywhere (kargo-promoter), bob in uat only, adam
	// everywhere (kargo-admin); carol edits everything but may not
	// promote; vera views; nobody has no binding.
	promotes := map[string][]string{alice: stages, bob: {"uat"}, adam: stages}
	renames := map[string]bool{carol: true, adam: true}
	for _, user := range []string{alice, bob, carol, vera, adam, nobody} {
		t.Run(user, func(t *testing.T) {
			got := decode[apitypes.Access](t, call(t, user, http.MethodGet, p+"/access?stage=test&stage=uat&stage=prod&stage=uat", nil), http.StatusOK)
			require.Len(t, got.Stages, 3, "each Stage once")
			for _, stage := range stages {
				answer := got.Stages[stage]
				may := slices.Contains(promotes[user], stage)
				require.Equal(t, may, answer.Promote.Allowed, "promote to %s", stage)
				require.Equal(t, may, answer.Approve.Allowed, "approve for %s", stage)
				if !may {
					require.Contains(t, answer.Promote.Reason, `user "`+user+`" may not promote to Stage "`+stage+`"`)
				}

				r := call(t, user, http.MethodPost, p+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: stage})
				if answer.Approve.Allowed {
					decode[map[string]any](t, r, http.StatusOK)
				} else {
					require.Equal(t, answer.Approve.Reason, refusal(t, r, http.StatusForbidden).Message, "the refusal the approval gives")
				}
			}

			require.Equal(t, renames[user], got.Rename.Allowed)
			r := call(t, user, http.MethodPost, p+"/freight/"+f.Name+"/alias", apitypes.AliasRequest{Alias: "may-" + user})
			if got.Rename.Allowed {
				decode[map[string]any](t, r, http.StatusOK)
			} else {
				refusal(t, r, http.StatusForbidden)
				require.Contains(t, got.Rename.Reason, `user "`+user+`" may not update freights.kargo.akuity.io in project "kargo-demo"`)
			}
		})
	}
}

// TestAccessQuestionsAreBounded: a question names Stages, at most 200, and
// needs a token like every other.
func TestAccessQuestionsAreBounded(t *testing.T) {
	kargoDemo(t)
	p := "/api/v1/projects/" + demo + "/access"

	none := decode[apitypes.Access](t, call(t, alice, http.MethodGet, p, nil), http.StatusOK)
	require.Empty(t, none.Stages)
	require.False(t, none.Rename.Allowed)

	s := refusal(t, call(t, alice, http.MethodGet, p+"?stage=", nil), http.StatusBadRequest)
	require.Contains(t, s.Message, "stage= needs a Stage's name")

	q := make([]string, 201)
	for i := range q {
		q[i] = "stage=s" + strings.Repeat("x", i)
	}
	s = refusal(t, call(t, alice, http.MethodGet, p+"?"+strings.Join(q, "&"), nil), http.StatusBadRequest)
	require.Contains(t, s.Message, "at most 200 Stages")

	s = refusal(t, call(t, anonymous, http.MethodGet, p+"?stage=test", nil), http.StatusUnauthorized)
	require.Contains(t, s.Message, "kargo login")
}
