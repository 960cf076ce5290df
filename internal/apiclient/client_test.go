// These tests cover the client's wire handling only (paths, bodies, pages,
// server-sent events, Status errors, TLS) against apiclienttest, a stand-in
// that speaks the contract of internal/apitypes. The end-to-end tests
// against the real API server (internal/server) come with that server.
package apiclient_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/apiclient/apiclienttest"
	"github.com/kargohq/kargo/internal/apitypes"
)

const token = "s3cret"

func newClient(t *testing.T, s *apiclienttest.Server) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(s.URL, token)
	require.NoError(t, err)
	return c
}

func project(name string) *kargoapi.Project {
	return &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func stage(project, name string) *kargoapi.Stage {
	return &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name}}
}

func freight(project, name, alias string) *kargoapi.Freight {
	return &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name}, Alias: alias}
}

func TestListAllFollowsPages(t *testing.T) {
	s := apiclienttest.New(t, token)
	s.PageSize = 2
	s.Add(project("demo"))
	for i := range 5 {
		s.Add(stage("demo", fmt.Sprintf("s%d", i)))
	}
	items, err := newClient(t, s).ListAll(context.Background(), apiclient.Stages, "demo", apiclient.ListOptions{})
	require.NoError(t, err)
	stages, err := apiclient.DecodeItems[kargoapi.Stage](items)
	require.NoError(t, err)
	var names []string
	for _, st := range stages {
		names = append(names, st.Name)
	}
	require.Equal(t, []string{"s0", "s1", "s2", "s3", "s4"}, names)
	require.Equal(t, []string{
		"GET /api/v1/projects/demo/stages",
		"GET /api/v1/projects/demo/stages?continue=2",
		"GET /api/v1/projects/demo/stages?continue=4",
	}, s.Requests())
}

func TestListSendsLimitAndAlias(t *testing.T) {
	s := apiclienttest.New(t, token)
	s.Add(project("demo"), freight("demo", "aaa", "mortal-dragonfly"), freight("demo", "bbb", "frozen-tauntaun"))
	l, err := newClient(t, s).List(context.Background(), apiclient.Freight, "demo", apiclient.ListOptions{Limit: 7, Alias: "frozen-tauntaun"})
	require.NoError(t, err)
	require.Equal(t, "FreightList", l.Kind)
	require.Len(t, l.Items, 1)
	require.Contains(t, string(l.Items[0]), `"name":"bbb"`)
	require.Equal(t, []string{"GET /api/v1/projects/demo/freight?alias=frozen-tauntaun&limit=7"}, s.Requests())
}

func TestListAllRefusesARepeatedContinueToken(t *testing.T) {
	s := apiclienttest.New(t, token)
	s.Override("GET /api/v1/projects/demo/stages", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"StageList","items":[{"metadata":{"name":"a"}}],"continue":"again","total":9}`)
	})
	_, err := newClient(t, s).ListAll(context.Background(), apiclient.Stages, "demo", apiclient.ListOptions{})
	require.ErrorContains(t, err, `continue token "again" twice`)
	require.Len(t, s.Requests(), 2)
}

func TestGetAndProjects(t *testing.T) {
	s := apiclienttest.New(t, token)
	s.Add(project("demo"), project("other"), freight("demo", "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766", "mortal-dragonfly"))
	c := newClient(t, s)
	ctx := context.Background()

	ps, err := c.ListProjects(ctx)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	require.Equal(t, "other", ps[1].Name)

	p, err := c.GetProject(ctx, "demo")
	require.NoError(t, err)
	require.Equal(t, "demo", p.Name)

	var f kargoapi.Freight
	require.NoError(t, c.GetInto(ctx, apiclient.Freight, "demo", "mortal-dragonfly", &f))
	require.Equal(t, "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766", f.Name)

	raw, err := c.Get(ctx, apiclient.Freight, "demo", "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766")
	require.NoError(t, err)
	require.Contains(t, string(raw), `"alias":"mortal-dragonfly"`)

	_, err = c.Get(ctx, apiclient.Stages, "demo", "nope")
	require.True(t, apiclient.IsNotFound(err), "%v", err)
}

func TestVersionAndWhoAmISendTheToken(t *testing.T) {
	s := apiclienttest.New(t, token)
	c := newClient(t, s)
	v, err := c.Version(context.Background())
	require.NoError(t, err)
	require.Equal(t, "v0.0.0-test", v.Version)
	w, err := c.WhoAmI(context.Background())
	require.NoError(t, err)
	require.Equal(t, "alice", w.Username)

	bad, err := apiclient.New(s.URL, "wrong")
	require.NoError(t, err)
	_, err = bad.WhoAmI(context.Background())
	require.True(t, apiclient.IsUnauthorized(err), "%v", err)
	require.EqualError(t, err, "the token is missing, expired or not valid")
}

func TestActions(t *testing.T) {
	const name = "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766"
	s := apiclienttest.New(t, token)
	s.Add(project("demo"), stage("demo", "test"), stage("demo", "prod"), freight("demo", name, "mortal-dragonfly"),
		&kargoapi.Warehouse{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "w"}})
	c := newClient(t, s)
	ctx := context.Background()

	p, err := c.Promote(ctx, "demo", "test", apitypes.PromoteRequest{FreightAlias: "mortal-dragonfly"})
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionSpec{Stage: "test", Freight: name}, p.Spec)
	require.NotEmpty(t, p.Name)

	f, err := c.Approve(ctx, "demo", name, "prod")
	require.NoError(t, err)
	require.Contains(t, f.Status.ApprovedFor, "prod")

	f, err = c.SetAlias(ctx, "demo", name, "frozen-tauntaun")
	require.NoError(t, err)
	require.Equal(t, "frozen-tauntaun", f.Alias)

	w, err := c.RefreshWarehouse(ctx, "demo", "w")
	require.NoError(t, err)
	require.NotEmpty(t, w.Annotations[apiclienttest.RefreshAnnotationKey])

	st, err := c.RefreshStage(ctx, "demo", "test")
	require.NoError(t, err)
	require.NotEmpty(t, st.Annotations[apiclienttest.RefreshAnnotationKey])

	st, err = c.Verify(ctx, "demo", "test", true)
	require.NoError(t, err)
	require.NotEmpty(t, st.Annotations[kargoapi.AbortVerificationAnnotationKey])
	require.Empty(t, st.Annotations[kargoapi.ReverifyAnnotationKey])

	manifest := `apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: uat
  namespace: demo
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: test
  namespace: demo
`
	res, err := c.Create(ctx, manifest)
	require.NoError(t, err)
	require.Len(t, res.Results, 2)
	require.Equal(t, "created", res.Results[0].Action)
	require.NotNil(t, res.Results[1].Error)
	require.Equal(t, metav1.StatusReasonAlreadyExists, res.Results[1].Error.Reason)

	res, err = c.Apply(ctx, manifest)
	require.NoError(t, err)
	require.Equal(t, "configured", res.Results[0].Action)

	res, err = c.Delete(ctx, manifest)
	require.NoError(t, err)
	require.Equal(t, "deleted", res.Results[1].Action)
	require.Nil(t, s.Object(apiclient.Stages, "demo", "test"))
}

func TestErrorsDecodeTheStatus(t *testing.T) {
	tests := []struct {
		name        string
		code        int
		contentType string
		body        string
		check       func(error) bool
		message     string
		reason      metav1.StatusReason
	}{{
		name:        "forbidden names the verb",
		code:        http.StatusForbidden,
		contentType: "application/json",
		body:        `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"alice may not promote to stage prod: she lacks the promote verb","reason":"Forbidden","code":403}`,
		check:       apiclient.IsForbidden,
		message:     "alice may not promote to stage prod: she lacks the promote verb",
		reason:      metav1.StatusReasonForbidden,
	}, {
		name:        "conflict",
		code:        http.StatusConflict,
		contentType: "application/json",
		body:        `{"kind":"Status","status":"Failure","message":"alias taken","reason":"Conflict","code":409}`,
		check:       apiclient.IsConflict,
		message:     "alias taken",
		reason:      metav1.StatusReasonConflict,
	}, {
		name:        "a Status without code takes the HTTP code",
		code:        http.StatusNotFound,
		contentType: "application/json",
		body:        `{"kind":"Status","message":"stages \"x\" not found"}`,
		check:       apiclient.IsNotFound,
		message:     `stages "x" not found`,
		reason:      metav1.StatusReasonNotFound,
	}, {
		name:        "a proxy's page becomes a readable message",
		code:        http.StatusBadGateway,
		contentType: "text/html",
		body:        "<html>upstream down</html>",
		check:       func(err error) bool { return !apiclient.IsNotFound(err) && !apiclient.IsForbidden(err) },
		message:     "the kargo API server answered 502 Bad Gateway: <html>upstream down</html>",
		reason:      metav1.StatusReasonInternalError,
	}, {
		name:    "an empty 401 is unauthorized",
		code:    http.StatusUnauthorized,
		check:   apiclient.IsUnauthorized,
		message: "the kargo API server answered 401 Unauthorized",
		reason:  metav1.StatusReasonUnauthorized,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := apiclienttest.New(t, token)
			s.Override("GET /api/v1/projects/demo", func(w http.ResponseWriter, _ *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.code)
				fmt.Fprint(w, tt.body)
			})
			_, err := newClient(t, s).GetProject(context.Background(), "demo")
			require.Error(t, err)
			require.True(t, tt.check(err), "%v", err)
			require.EqualError(t, err, tt.message)
			st, ok := apiclient.StatusOf(err)
			require.True(t, ok)
			require.Equal(t, int32(tt.code), st.Code)
			require.Equal(t, tt.reason, st.Reason)
		})
	}
}

func TestTLS(t *testing.T) {
	s := apiclienttest.NewTLS(t, token)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600))
	ctx := context.Background()

	untrusted, err := apiclient.New(s.URL, token)
	require.NoError(t, err)
	_, err = untrusted.WhoAmI(ctx)
	require.ErrorContains(t, err, "certificate")

	trusted, err := apiclient.New(s.URL, token, apiclient.WithCAFile(caFile))
	require.NoError(t, err)
	_, err = trusted.WhoAmI(ctx)
	require.NoError(t, err)

	insecure, err := apiclient.New(s.URL, token, apiclient.WithInsecureSkipTLSVerify(true))
	require.NoError(t, err)
	_, err = insecure.WhoAmI(ctx)
	require.NoError(t, err)

	_, err = apiclient.New(s.URL, token, apiclient.WithCAFile(filepath.Join(t.TempDir(), "missing.pem")))
	require.ErrorContains(t, err, "read CA file")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	_, err = apiclient.New(s.URL, token, apiclient.WithCAFile(notPEM))
	require.ErrorContains(t, err, "no PEM certificate")
}

func TestParseServer(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "kargo.example.com", want: "https://kargo.example.com"},
		{in: "localhost:8443/", want: "https://localhost:8443"},
		{in: "http://127.0.0.1:8080/kargo/", want: "http://127.0.0.1:8080/kargo"},
		{in: "", err: "it is empty"},
		{in: "ftp://x", err: "must be https or http"},
		{in: "https://bob:pw@x", err: "must not carry a user name or password"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := apiclient.ParseServer(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.NotContains(t, err.Error(), "pw", "a password must not reach an error message")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, u.String())
		})
	}
}

func TestAPathPrefixIsKept(t *testing.T) {
	s := apiclienttest.New(t, token)
	var got string
	s.Override("GET /kargo/api/v1/version", func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"version":"v1"}`)
	})
	c, err := apiclient.New(s.URL+"/kargo/", token)
	require.NoError(t, err)
	v, err := c.Version(context.Background())
	require.NoError(t, err)
	require.Equal(t, "v1", v.Version)
	require.Equal(t, "/kargo/api/v1/version", got)
}

func TestRequestsTimeOut(t *testing.T) {
	s := apiclienttest.New(t, token)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.Override("GET /api/v1/version", func(http.ResponseWriter, *http.Request) { <-release })
	c, err := apiclient.New(s.URL, token, apiclient.WithTimeout(50*time.Millisecond))
	require.NoError(t, err)
	_, err = c.Version(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
