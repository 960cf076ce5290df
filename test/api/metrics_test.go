package api

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
	"github.com/kargohq/kargo/internal/testutil/metricstest"
)

// The request duration histogram counts each call under its route pattern,
// method and code; project and object names never become labels.
func TestAPIRequestMetrics(t *testing.T) {
	kargoDemo(t)
	const metric = "kargo_api_request_duration_seconds"
	list := map[string]string{"route": "/api/v1/projects/{project}/{kind}", "method": "GET", "code": "200"}
	refused := map[string]string{"route": "/api/v1/projects/{project}/{kind}/{name}", "method": "GET", "code": "403"}
	before, beforeRefused := metricstest.Value(t, metric, list), metricstest.Value(t, metric, refused)

	decode[map[string]any](t, call(t, alice, http.MethodGet, "/api/v1/projects/"+demo+"/stages", nil), http.StatusOK)
	refusal(t, call(t, nobody, http.MethodGet, "/api/v1/projects/"+demo+"/stages/test", nil), http.StatusForbidden)

	require.Equal(t, before+1, metricstest.Value(t, metric, list))
	require.Equal(t, beforeRefused+1, metricstest.Value(t, metric, refused))
	routes := metricstest.LabelValues(t, metric, "route")
	require.Contains(t, routes, list["route"])
	for _, route := range routes {
		require.False(t, strings.Contains(route, demo), "a route label holds a project's name: %s", route)
	}
}

// /readyz answers 200 while the server's own connection to the Kubernetes
// API server works, and 503 while it fails: such a replica is taken out of
// its Service.
func TestAPIReadiness(t *testing.T) {
	cfg, err := apiserver.Config(env)
	require.NoError(t, err)
	var broken atomic.Bool
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if broken.Load() {
				return nil, errors.New("injected fault: connection refused")
			}
			return rt.RoundTrip(r)
		})
	})
	srv, err := apiserver.Start(env, server.Options{Config: rest.CopyConfig(cfg)})
	require.NoError(t, err)
	defer func() { require.NoError(t, srv.Stop()) }()

	readyz := func() (int, string) {
		resp, err := http.Get(srv.URL + "/readyz")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, body := readyz()
	require.Equal(t, http.StatusOK, code, body)

	broken.Store(true)
	code, body = readyz()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "injected fault")
	// Liveness does not follow: restarting would not mend the connection.
	resp, err := http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	broken.Store(false)
	kubetest.Eventually(t, 10*time.Second, "ready again", func() (bool, string) {
		code, body := readyz()
		return code == http.StatusOK, body
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
