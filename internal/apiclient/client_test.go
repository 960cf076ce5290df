package apiclient_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
	"github.com/kargohq/kargo/internal/testutil/objects"
	"github.com/kargohq/kargo/internal/version"
)

func names(t *testing.T, items []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, raw := range items {
		var m metav1.PartialObjectMetadata
		require.NoError(t, json.Unmarshal(raw, &m))
		out = append(out, m.Name)
	}
	return out
}

func TestListAllFollowsPages(t *testing.T) {
	p := newProject(t)
	for i := range 5 {
		create(t, stage(p, fmt.Sprintf("s%d", i)))
	}
	ctx := context.Background()
	rec := newInterceptor()
	c := rec.client(t, adam)
	waitFor(t, "the server lists the five Stages", func() (bool, string) {
		items, err := c.ListAll(ctx, apiclient.Stages, p, apiclient.ListOptions{})
		return err == nil && len(items) == 5, fmt.Sprint(err, len(items))
	})

	rec = newInterceptor()
	items, err := rec.client(t, adam).ListAll(ctx, apiclient.Stages, p, apiclient.ListOptions{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"s0", "s1", "s2", "s3", "s4"}, names(t, items))
	reqs := rec.Requests()
	require.Len(t, reqs, 3, "three pages of two: %v", reqs)
	require.Equal(t, "GET /api/v1/projects/"+p+"/stages?limit=2", reqs[0])
	for _, r := range reqs[1:] {
		require.Regexp(t, `^GET /api/v1/projects/`+p+`/stages\?continue=[^&]+&limit=2$`, r)
	}
	require.NotEqual(t, reqs[1], reqs[2], "each page has its own continue token")
}

func TestListSendsLimitAndAlias(t *testing.T) {
	p := newProject(t)
	b := objects.Freight(p, objects.Image("registry.example.com/app", "b"), objects.Alias("frozen-tauntaun"))
	create(t, objects.Freight(p, objects.Image("registry.example.com/app", "a"), objects.Alias("mortal-dragonfly")), b)
	rec := newInterceptor()
	l, err := rec.client(t, adam).List(context.Background(), apiclient.Freight, p, apiclient.ListOptions{Limit: 7, Alias: "frozen-tauntaun"})
	require.NoError(t, err)
	require.Equal(t, "FreightList", l.Kind)
	require.Equal(t, []string{b.Name}, names(t, l.Items))
	require.Equal(t, []string{"GET /api/v1/projects/" + p + "/freight?alias=frozen-tauntaun&limit=7"}, rec.Requests())
}

// A server (or a proxy) that hands out the same continue token twice
// would keep ListAll paging forever; the interceptor makes the real
// server's answers do that.
func TestListAllRefusesARepeatedContinueToken(t *testing.T) {
	p := newProject(t)
	for i := range 3 {
		create(t, stage(p, fmt.Sprintf("s%d", i)))
	}
	ctx := context.Background()
	waitFor(t, "the server lists the three Stages", func() (bool, string) {
		items, err := newClient(t, adam).ListAll(ctx, apiclient.Stages, p, apiclient.ListOptions{})
		return err == nil && len(items) == 3, fmt.Sprint(err, len(items))
	})
	rec := newInterceptor()
	first := ""
	rec.response = func(resp *http.Response) error {
		var l apitypes.List
		if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
			return err
		}
		resp.Body.Close()
		if first == "" {
			first = l.Continue
		} else if l.Continue != "" {
			l.Continue = first
		}
		raw, err := json.Marshal(l)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(strings.NewReader(string(raw)))
		resp.ContentLength = int64(len(raw))
		return nil
	}
	_, err := rec.client(t, adam).ListAll(ctx, apiclient.Stages, p, apiclient.ListOptions{Limit: 1})
	require.ErrorContains(t, err, fmt.Sprintf("continue token %q twice", first))
	require.Len(t, rec.Requests(), 2)
}

func TestGetAndProjects(t *testing.T) {
	p := newProject(t)
	f := objects.Freight(p, objects.Image("registry.example.com/app", "a"), objects.Alias("mortal-dragonfly"))
	create(t, f)
	c := newClient(t, admin)
	ctx := context.Background()

	waitFor(t, "the new Project is listed", func() (bool, string) {
		ps, err := c.ListProjects(ctx)
		var got []string
		for _, pr := range ps {
			got = append(got, pr.Name)
		}
		return err == nil && slices.Contains(got, p), fmt.Sprint(err, got)
	})

	pr, err := c.GetProject(ctx, p)
	require.NoError(t, err)
	require.Equal(t, p, pr.Name)

	var got kargoapi.Freight
	require.NoError(t, c.GetInto(ctx, apiclient.Freight, p, "mortal-dragonfly", &got), "by alias")
	require.Equal(t, f.Name, got.Name)

	raw, err := c.Get(ctx, apiclient.Freight, p, f.Name)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"alias":"mortal-dragonfly"`)

	_, err = c.Get(ctx, apiclient.Stages, p, "nope")
	require.True(t, apiclient.IsNotFound(err), "%v", err)
	require.EqualError(t, err, `Stage "nope" not found in project "`+p+`"; kargo get stages --project `+p+` lists them`)
}

func TestVersionAndWhoAmISendTheToken(t *testing.T) {
	c := newClient(t, alice)
	v, err := c.Version(context.Background())
	require.NoError(t, err)
	require.Equal(t, version.String(), v.Version)
	w, err := c.WhoAmI(context.Background())
	require.NoError(t, err)
	require.Equal(t, "alice", w.Username)
	require.Contains(t, w.Groups, "system:authenticated")

	bad, err := apiclient.New(api.URL, "not-a-token")
	require.NoError(t, err)
	_, err = bad.WhoAmI(context.Background())
	require.True(t, apiclient.IsUnauthorized(err), "%v", err)
	require.EqualError(t, err, "the bearer token was not accepted (expired, revoked or for another cluster): run `kargo login` again")

	// The version needs no token.
	_, err = bad.Version(context.Background())
	require.NoError(t, err)
}

func TestActions(t *testing.T) {
	p := newProject(t)
	f := objects.Freight(p, objects.Image("registry.example.com/app", "a"), objects.Alias("mortal-dragonfly"))
	create(t, objects.Warehouse(p, "w"), stage(p, "test"), stage(p, "prod"), f)
	c := newClient(t, adam)
	ctx := context.Background()

	promo, err := c.Promote(ctx, p, "test", apitypes.PromoteRequest{FreightAlias: "mortal-dragonfly"})
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionSpec{Stage: "test", Freight: f.Name}, promo.Spec)
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(promo), &kargoapi.Promotion{}), "the Promotion was created")

	got, err := c.Approve(ctx, p, f.Name, "prod")
	require.NoError(t, err)
	require.Contains(t, got.Status.ApprovedFor, "prod")

	got, err = c.SetAlias(ctx, p, f.Name, "frozen-tauntaun")
	require.NoError(t, err)
	require.Equal(t, "frozen-tauntaun", got.Alias)
	require.Equal(t, "frozen-tauntaun", got.Labels[kargoapi.AliasLabelKey], "the webhook keeps the label in sync")

	w, err := c.RefreshWarehouse(ctx, p, "w")
	require.NoError(t, err)
	require.NotEmpty(t, w.Annotations[kargoapi.RefreshAnnotationKey])

	st, err := c.RefreshStage(ctx, p, "test")
	require.NoError(t, err)
	require.NotEmpty(t, st.Annotations[kargoapi.RefreshAnnotationKey])

	st, err = c.Verify(ctx, p, "test", true)
	require.NoError(t, err)
	require.NotEmpty(t, st.Annotations[kargoapi.AbortVerificationAnnotationKey])
	require.Empty(t, st.Annotations[kargoapi.ReverifyAnnotationKey])
}

func TestManifests(t *testing.T) {
	p := newProject(t)
	create(t, stage(p, "test"))
	c := newClient(t, adam)
	ctx := context.Background()
	manifest := fmt.Sprintf(`apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: uat
  namespace: %[1]s
spec:
  subscriptions:
    warehouse: w
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: test
  namespace: %[1]s
spec:
  subscriptions:
    warehouse: w
---
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionPolicy
metadata:
  name: uat
  namespace: %[1]s
stage: uat
`, p)
	res, err := c.Create(ctx, manifest)
	require.NoError(t, err)
	require.Len(t, res.Results, 3)
	require.Equal(t, "created", res.Results[0].Action)
	require.NotNil(t, res.Results[1].Error, "test exists")
	require.Equal(t, metav1.StatusReasonAlreadyExists, res.Results[1].Error.Reason)
	require.Equal(t, "created", res.Results[2].Action)

	prod := fmt.Sprintf(`apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: prod
  namespace: %[1]s
spec:
  subscriptions:
    warehouse: w
---
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionPolicy
metadata:
  name: uat
  namespace: %[1]s
stage: uat
`, p)
	// The PromotionPolicy made by create is now applied too: kargo-cli's
	// apply records its fields, a change of the object.
	res, err = c.Apply(ctx, prod)
	require.NoError(t, err)
	require.Equal(t, []string{"created", "configured"}, actions(res))
	res, err = c.Apply(ctx, strings.ReplaceAll(prod, "warehouse: w", "warehouse: other"))
	require.NoError(t, err)
	require.Equal(t, []string{"configured", "unchanged"}, actions(res))

	// Server-side apply: the subscription of test belongs to whoever
	// created it (the admin's client), so changing it is a conflict that
	// names the field.
	res, err = c.Apply(ctx, strings.ReplaceAll(manifest, "warehouse: w", "warehouse: other"))
	require.NoError(t, err)
	require.Len(t, res.Results, 3)
	require.NotNil(t, res.Results[1].Error)
	require.Equal(t, metav1.StatusReasonConflict, res.Results[1].Error.Reason)
	require.Contains(t, res.Results[1].Error.Message, "conflict with \"apiclient.test\"")
	require.Contains(t, res.Results[1].Error.Message, ".spec.subscriptions.warehouse")

	res, err = c.Delete(ctx, manifest)
	require.NoError(t, err)
	require.Equal(t, []string{"deleted", "deleted", "deleted"}, actions(res))
	err = env.Admin.Get(ctx, client.ObjectKey{Namespace: p, Name: "test"}, &kargoapi.Stage{})
	require.Error(t, err, "the Stage is gone")

	_, err = c.Apply(ctx, "kind: [")
	require.ErrorContains(t, err, "document 1 of the manifests is not YAML or JSON")
	st, ok := apiclient.StatusOf(err)
	require.True(t, ok)
	require.Equal(t, metav1.StatusReasonBadRequest, st.Reason)
}

// actions returns what happened to each object of a manifest, or the
// refusal's reason.
func actions(res *apitypes.ManifestResult) []string {
	var out []string
	for _, r := range res.Results {
		if r.Error != nil {
			out = append(out, string(r.Error.Reason))
			continue
		}
		out = append(out, r.Action)
	}
	return out
}

// badGateway is a real reverse proxy in front of an address nothing
// listens on: it answers 502 with an empty body, as proxies do when the
// server behind them is down.
func badGateway(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	require.NoError(t, ln.Close())
	proxy := &httputil.ReverseProxy{
		Rewrite:  func(r *httputil.ProxyRequest) { r.SetURL(down) },
		ErrorLog: discardLog(),
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestErrorsDecodeTheStatus(t *testing.T) {
	p := newProject(t)
	a, b := objects.Freight(p, objects.Image("registry.example.com/app", "a"), objects.Alias("mortal-dragonfly")), objects.Freight(p, objects.Image("registry.example.com/app", "b"), objects.Alias("frozen-tauntaun"))
	create(t, stage(p, "test"), a, b)
	ctx := context.Background()
	tests := []struct {
		name    string
		call    func() error
		check   func(error) bool
		code    int32
		reason  metav1.StatusReason
		message string // contained in the error
	}{{
		name: "forbidden names the verb",
		call: func() error {
			_, err := newClient(t, nobody).Promote(ctx, p, "test", apitypes.PromoteRequest{Freight: a.Name})
			return err
		},
		check:   apiclient.IsForbidden,
		code:    http.StatusForbidden,
		reason:  metav1.StatusReasonForbidden,
		message: `user "nobody" may not promote to Stage "test" in project "` + p + `": that needs the "promote" verb`,
	}, {
		name: "conflict from the admission webhook, through the impersonated write",
		call: func() error {
			_, err := newClient(t, adam).SetAlias(ctx, p, b.Name, "mortal-dragonfly")
			return err
		},
		check:   apiclient.IsConflict,
		code:    http.StatusConflict,
		reason:  metav1.StatusReasonConflict,
		message: `alias "mortal-dragonfly" is already held by Freight ` + a.Name,
	}, {
		name: "not found",
		call: func() error {
			_, err := newClient(t, adam).Approve(ctx, p, a.Name, "nope")
			return err
		},
		check:   apiclient.IsNotFound,
		code:    http.StatusNotFound,
		reason:  metav1.StatusReasonNotFound,
		message: `Stage "nope" not found in project "` + p + `"`,
	}, {
		name: "unauthorized",
		call: func() error {
			c, err := apiclient.New(api.URL, "expired")
			require.NoError(t, err)
			_, err = c.GetProject(ctx, p)
			return err
		},
		check:   apiclient.IsUnauthorized,
		code:    http.StatusUnauthorized,
		reason:  metav1.StatusReasonUnauthorized,
		message: "the bearer token was not accepted",
	}, {
		name: "bad request",
		call: func() error {
			_, err := newClient(t, adam).List(ctx, apiclient.Stages, p, apiclient.ListOptions{Alias: "x"})
			return err
		},
		check:   func(err error) bool { return !apiclient.IsNotFound(err) && !apiclient.IsConflict(err) },
		code:    http.StatusBadRequest,
		reason:  metav1.StatusReasonBadRequest,
		message: "alias selects Freight; stages have no alias",
	}, {
		name: "a proxy's empty answer becomes a readable message",
		call: func() error {
			c, err := apiclient.New(badGateway(t), kubetest.Token(adam))
			require.NoError(t, err)
			_, err = c.GetProject(ctx, p)
			return err
		},
		check:   func(err error) bool { return !apiclient.IsNotFound(err) && !apiclient.IsForbidden(err) },
		code:    http.StatusBadGateway,
		reason:  metav1.StatusReasonInternalError,
		message: "the kargo API server answered 502 Bad Gateway",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			require.True(t, tt.check(err), "%v", err)
			require.ErrorContains(t, err, tt.message)
			st, ok := apiclient.StatusOf(err)
			require.True(t, ok, "%T: %v", err, err)
			require.Equal(t, tt.code, st.Code)
			require.Equal(t, tt.reason, st.Reason)
		})
	}
}

// TestTLS runs a second real server over HTTPS with a certificate the
// system does not trust.
func TestTLS(t *testing.T) {
	cert, certPEM := apiserver.SelfSignedCert(t)
	srv, err := apiserver.Start(env, server.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, certPEM, 0o600))
	ctx := context.Background()
	token := kubetest.Token(alice)

	untrusted, err := apiclient.New(srv.URL, token)
	require.NoError(t, err)
	_, err = untrusted.WhoAmI(ctx)
	require.ErrorContains(t, err, "certificate")

	trusted, err := apiclient.New(srv.URL, token, apiclient.WithCAFile(caFile))
	require.NoError(t, err)
	who, err := trusted.WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, "alice", who.Username)

	insecure, err := apiclient.New(srv.URL, token, apiclient.WithInsecureSkipTLSVerify(true))
	require.NoError(t, err)
	_, err = insecure.WhoAmI(ctx)
	require.NoError(t, err)

	_, err = apiclient.New(srv.URL, token, apiclient.WithCAFile(filepath.Join(t.TempDir(), "missing.pem")))
	require.ErrorContains(t, err, "read CA file")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	_, err = apiclient.New(srv.URL, token, apiclient.WithCAFile(notPEM))
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

// TestAPathPrefixIsKept serves the real server under /kargo/ through a
// reverse proxy, as an ingress that routes by path does.
func TestAPathPrefixIsKept(t *testing.T) {
	backend, err := url.Parse(api.URL)
	require.NoError(t, err)
	var mu sync.Mutex
	var seen []string
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			mu.Lock()
			seen = append(seen, r.In.URL.Path)
			mu.Unlock()
			r.SetURL(backend)
			r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, "/kargo")
			r.Out.URL.RawPath = ""
		},
		ErrorLog: discardLog(),
	}
	ingress := httptest.NewServer(proxy)
	t.Cleanup(ingress.Close)

	c, err := apiclient.New(ingress.URL+"/kargo/", kubetest.Token(alice))
	require.NoError(t, err)
	v, err := c.Version(context.Background())
	require.NoError(t, err)
	require.Equal(t, version.String(), v.Version)
	who, err := c.WhoAmI(context.Background())
	require.NoError(t, err)
	require.Equal(t, "alice", who.Username)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"/kargo/api/v1/version", "/kargo/api/v1/whoami"}, seen)
}

// TestRequestsTimeOut: a network that delivers nothing does not hang the
// client past its timeout.
func TestRequestsTimeOut(t *testing.T) {
	stall := newInterceptor()
	stall.request = func(r *http.Request) error {
		select {
		case <-r.Context().Done():
			return r.Context().Err()
		case <-time.After(time.Minute):
			return nil
		}
	}
	c := stall.client(t, alice, apiclient.WithTimeout(50*time.Millisecond))
	start := time.Now()
	_, err := c.Version(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 30*time.Second)
}
