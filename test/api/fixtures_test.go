package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// The seed pages' project, and the users of the access table beyond the
// seed's alice and bob (see docs/access-control.md).
const (
	demo   = "kargo-demo"
	alice  = kubetest.Alice
	bob    = kubetest.Bob
	nobody = kubetest.Nobody
	carol  = kubetest.Carol
	vera   = kubetest.Vera
	adam   = kubetest.Adam
	// admin is in system:masters.
	admin = "admin"
	// anonymous sends no token at all.
	anonymous = ""
)

var demoOnce sync.Once

// kargoDemo creates the kargo-demo project once per package: the seed's
// bindings for alice and bob applied unchanged with kubectl, bindings for
// carol, vera and adam, a Warehouse w, Stages test, uat and prod in a line,
// and the Freight demoFreight.
func kargoDemo(t testing.TB) {
	t.Helper()
	demoOnce.Do(func() {
		ctx := context.Background()
		env.CreateProject(t, demo)
		env.SeedRBAC(t)
		env.BindAccessUsers(t, demo)

		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: demo},
			Spec: kargoapi.WarehouseSpec{
				Interval:      &metav1.Duration{Duration: time.Hour},
				Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: "registry.invalid/app"}}},
			},
		}))
		for _, st := range []struct{ name, upstream string }{{"test", ""}, {"uat", "test"}, {"prod", "uat"}} {
			subs := &kargoapi.Subscriptions{Warehouse: "w"}
			if st.upstream != "" {
				subs = &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: st.upstream}}}
			}
			require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
				ObjectMeta: metav1.ObjectMeta{Name: st.name, Namespace: demo},
				Spec:       kargoapi.StageSpec{Subscriptions: subs},
			}))
		}
	})
}

// createFreight creates Freight in ns as the admin and returns it.
func createFreight(t testing.TB, ns, tag string) *kargoapi.Freight {
	t.Helper()
	f := objects.Freight(ns, objects.Image("registry.example.com/app", tag))
	err := env.Admin.Create(context.Background(), f)
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	return f
}

// response is what the API server answered.
type response struct {
	code int
	body []byte
}

// call makes a request as user (anonymous: without a token) and returns the
// answer; body, when not nil, is sent as JSON.
func call(t testing.TB, user, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, api.URL+path, rd)
	require.NoError(t, err)
	if user != anonymous {
		req.Header.Set("Authorization", "Bearer "+kubetest.Token(user))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{code: resp.StatusCode, body: raw}
}

// decode returns the body of a response that must have the given code.
func decode[T any](t testing.TB, r response, code int) T {
	t.Helper()
	require.Equal(t, code, r.code, "body: %s", r.body)
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), "body: %s", r.body)
	return v
}

// refusal returns the Status of a refused request, requiring its code.
func refusal(t testing.TB, r response, code int) metav1.Status {
	t.Helper()
	s := decode[metav1.Status](t, r, code)
	require.Equal(t, int32(code), s.Code)
	require.Equal(t, "Status", s.Kind)
	return s
}

// listAll follows the continue tokens of a list and returns every page.
func listAll(t testing.TB, user, path string) []apitypes.List {
	t.Helper()
	var pages []apitypes.List
	next := ""
	for {
		p := path
		if next != "" {
			p += "&continue=" + next
		}
		page := decode[apitypes.List](t, call(t, user, http.MethodGet, p, nil), http.StatusOK)
		pages = append(pages, page)
		if page.Continue == "" {
			return pages
		}
		next = page.Continue
	}
}

// objectsOf decodes the items of a list.
func objectsOf[T any](t testing.TB, l apitypes.List) []T {
	t.Helper()
	out := make([]T, len(l.Items))
	for i, raw := range l.Items {
		require.NoError(t, json.Unmarshal(raw, &out[i]))
	}
	return out
}

// demoFreight returns Freight in kargo-demo unique to the test.
func demoFreight(t *testing.T) *kargoapi.Freight {
	t.Helper()
	kargoDemo(t)
	return createFreight(t, demo, t.Name())
}
