package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// aliasName turns a test's name into an alias unique to it.
func aliasName(t *testing.T) string {
	return strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
}

// giveAlias sets the Freight's alias through the API as adam, whose
// kargo-admin role may update Freight.
func giveAlias(t *testing.T, f *kargoapi.Freight, alias string) *kargoapi.Freight {
	t.Helper()
	got := decode[kargoapi.Freight](t, call(t, adam, http.MethodPost,
		"/api/v1/projects/"+demo+"/freight/"+f.Name+"/alias", apitypes.AliasRequest{Alias: alias}), http.StatusOK)
	return &got
}

func TestPromoteByAlias(t *testing.T) {
	f := demoFreight(t)
	alias := aliasName(t)
	giveAlias(t, f, alias)

	promo := decode[kargoapi.Promotion](t, call(t, alice, http.MethodPost,
		"/api/v1/projects/"+demo+"/stages/test/promote", apitypes.PromoteRequest{FreightAlias: alias}), http.StatusCreated)
	require.Equal(t, f.Name, promo.Spec.Freight)
	require.Equal(t, "test", promo.Spec.Stage)
	// The Promotion was created, not just described.
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(&promo), &kargoapi.Promotion{}))

	s := refusal(t, call(t, alice, http.MethodPost,
		"/api/v1/projects/"+demo+"/stages/test/promote", apitypes.PromoteRequest{FreightAlias: "no-such-alias"}), http.StatusNotFound)
	require.Equal(t, `Freight alias "no-such-alias" not found in project "kargo-demo"; kargo get freight --project kargo-demo lists them`, s.Message)

	s = refusal(t, call(t, alice, http.MethodPost,
		"/api/v1/projects/"+demo+"/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name, FreightAlias: alias}), http.StatusBadRequest)
	require.Contains(t, s.Message, "exactly one of freight")
}

// TestPromoteRefusedForBobToProd: the server checks the promote verb
// before it creates the Promotion (as the caller, so that the webhook
// checks it again).
func TestPromoteRefusedForBobToProd(t *testing.T) {
	f := demoFreight(t)
	s := refusal(t, call(t, bob, http.MethodPost,
		"/api/v1/projects/"+demo+"/stages/prod/promote", apitypes.PromoteRequest{Freight: f.Name}), http.StatusForbidden)
	require.Contains(t, s.Message, `user "bob" may not promote to Stage "prod"`)

	// carol may create Promotions but holds no promote verb.
	s = refusal(t, call(t, carol, http.MethodPost,
		"/api/v1/projects/"+demo+"/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name}), http.StatusForbidden)
	require.Contains(t, s.Message, `"promote"`)
}

func TestApproveByAlias(t *testing.T) {
	f := demoFreight(t)
	alias := aliasName(t)
	giveAlias(t, f, alias)

	got := decode[kargoapi.Freight](t, call(t, bob, http.MethodPost,
		"/api/v1/projects/"+demo+"/freight/"+alias+"/approve", apitypes.ApproveRequest{Stage: "uat"}), http.StatusOK)
	require.Equal(t, f.Name, got.Name)
	require.Contains(t, got.Status.ApprovedFor, "uat")

	stored := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(f), stored))
	require.Contains(t, stored.Status.ApprovedFor, "uat")

	s := refusal(t, call(t, bob, http.MethodPost,
		"/api/v1/projects/"+demo+"/freight/"+alias+"/approve", apitypes.ApproveRequest{Stage: "nowhere"}), http.StatusForbidden)
	require.Contains(t, s.Message, `Stage "nowhere"`)

	s = refusal(t, call(t, alice, http.MethodPost,
		"/api/v1/projects/"+demo+"/freight/"+alias+"/approve", apitypes.ApproveRequest{Stage: "nowhere"}), http.StatusNotFound)
	require.Contains(t, s.Message, `Stage "nowhere" not found in project "kargo-demo"`)
}

func TestAliasChange(t *testing.T) {
	f := demoFreight(t)
	other := createFreight(t, demo, t.Name()+"-other")
	alias := aliasName(t)

	got := giveAlias(t, f, alias)
	require.Equal(t, alias, got.Alias)
	require.Equal(t, alias, got.Labels[kargoapi.AliasLabelKey])

	byAlias := decode[kargoapi.Freight](t, call(t, vera, http.MethodGet, "/api/v1/projects/"+demo+"/freight/"+alias, nil), http.StatusOK)
	require.Equal(t, f.Name, byAlias.Name)
	list := decode[apitypes.List](t, call(t, vera, http.MethodGet, "/api/v1/projects/"+demo+"/freight?alias="+alias, nil), http.StatusOK)
	require.Equal(t, 1, list.Total)
	require.Equal(t, f.Name, objectsOf[kargoapi.Freight](t, list)[0].Name)

	// The admission webhook refuses a duplicate, and the refusal reaches
	// the caller through the impersonated write.
	s := refusal(t, call(t, adam, http.MethodPost,
		"/api/v1/projects/"+demo+"/freight/"+other.Name+"/alias", apitypes.AliasRequest{Alias: alias}), http.StatusConflict)
	require.Contains(t, s.Message, "already held by Freight "+f.Name)

	// A promoter may not rename Freight.
	s = refusal(t, call(t, alice, http.MethodPost,
		"/api/v1/projects/"+demo+"/freight/"+alias+"/alias", apitypes.AliasRequest{Alias: alias + "-2"}), http.StatusForbidden)
	require.Contains(t, s.Message, `user "alice" may not update freights.kargo.akuity.io in project "kargo-demo"`)

	// Renamed by its alias, then unnamed.
	renamed := decode[kargoapi.Freight](t, call(t, adam, http.MethodPost,
		"/api/v1/projects/"+demo+"/freight/"+alias+"/alias", apitypes.AliasRequest{Alias: alias + "-2"}), http.StatusOK)
	require.Equal(t, alias+"-2", renamed.Alias)
	got = giveAlias(t, f, "")
	require.Empty(t, got.Alias)
	require.NotContains(t, got.Labels, kargoapi.AliasLabelKey)

	// The server's cache follows the API server within moments.
	kubetest.Eventually(t, 10*time.Second, "the old alias is gone", func() (bool, string) {
		r := call(t, vera, http.MethodGet, "/api/v1/projects/"+demo+"/freight/"+alias, nil)
		return r.code == http.StatusNotFound, string(r.body)
	})
	s = refusal(t, call(t, vera, http.MethodGet, "/api/v1/projects/"+demo+"/freight/"+alias, nil), http.StatusNotFound)
	require.Equal(t, `Freight alias "`+alias+`" not found in project "kargo-demo"; kargo get freight --project kargo-demo lists them`, s.Message)
}

func TestRefresh(t *testing.T) {
	kargoDemo(t)
	for _, c := range []struct{ path, kind string }{{"warehouses/w", "Warehouse"}, {"stages/test", "Stage"}} {
		t.Run(c.kind, func(t *testing.T) {
			before := time.Now().UTC()
			type object struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			}
			first := decode[object](t, call(t, adam, http.MethodPost, "/api/v1/projects/"+demo+"/"+c.path+"/refresh", nil), http.StatusOK)
			require.Equal(t, c.kind, first.Kind)
			token := first.Metadata.Annotations["kargo.akuity.io/refresh"]
			at, err := time.Parse(time.RFC3339Nano, token)
			require.NoError(t, err, "refresh token %q", token)
			require.False(t, at.Before(before.Truncate(time.Second)))

			second := decode[object](t, call(t, carol, http.MethodPost, "/api/v1/projects/"+demo+"/"+c.path+"/refresh", nil), http.StatusOK)
			require.NotEqual(t, token, second.Metadata.Annotations["kargo.akuity.io/refresh"], "each refresh is a new token")
		})
	}
	s := refusal(t, call(t, adam, http.MethodPost, "/api/v1/projects/"+demo+"/warehouses/nope/refresh", nil), http.StatusNotFound)
	require.Equal(t, `Warehouse "nope" not found in project "kargo-demo"; kargo get warehouses --project kargo-demo lists them`, s.Message)
}

func TestVerify(t *testing.T) {
	kargoDemo(t)
	st := decode[kargoapi.Stage](t, call(t, alice, http.MethodPost, "/api/v1/projects/"+demo+"/stages/uat/verify", apitypes.VerifyRequest{}), http.StatusOK)
	_, err := time.Parse(time.RFC3339Nano, st.Annotations[kargoapi.ReverifyAnnotationKey])
	require.NoError(t, err)

	// bob may promote to uat, so he may ask for its verification too.
	st = decode[kargoapi.Stage](t, call(t, bob, http.MethodPost, "/api/v1/projects/"+demo+"/stages/uat/verify", apitypes.VerifyRequest{Abort: true}), http.StatusOK)
	_, err = time.Parse(time.RFC3339Nano, st.Annotations[kargoapi.AbortVerificationAnnotationKey])
	require.NoError(t, err)

	s := refusal(t, call(t, bob, http.MethodPost, "/api/v1/projects/"+demo+"/stages/prod/verify", apitypes.VerifyRequest{}), http.StatusForbidden)
	require.Contains(t, s.Message, `user "bob" may not promote to Stage "prod"`)

	s = refusal(t, call(t, alice, http.MethodPost, "/api/v1/projects/"+demo+"/stages/nope/verify", apitypes.VerifyRequest{}), http.StatusNotFound)
	require.Equal(t, `Stage "nope" not found in project "kargo-demo"; kargo get stages --project kargo-demo lists them`, s.Message)
}
