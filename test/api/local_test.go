package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
)

// TestTLSAndLocalAdmin runs a second server as kargo local would (with a
// local admin token) but over TLS: the local admin is an administrator of
// everything, and writes made as them are impersonated like anyone's.
func TestTLSAndLocalAdmin(t *testing.T) {
	kargoDemo(t)
	cert, certPEM := apiserver.SelfSignedCert(t)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	cfg, err := apiserver.Config(env)
	require.NoError(t, err)
	const token = "local-admin-token-for-tests"
	srv, err := server.New(server.Options{
		Config:          cfg,
		TLS:             &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		LocalAdminToken: token,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("server not ready after a minute")
	}
	require.Equal(t, "127.0.0.1", srv.Addr().(*net.TCPAddr).IP.String(), "no address means loopback")

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	base := "https://" + srv.Addr().String()
	get := func(method, path, body string) (int, []byte) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, rd)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, raw
	}

	code, raw := get(http.MethodGet, "/api/v1/whoami", "")
	require.Equal(t, http.StatusOK, code, string(raw))
	var me apitypes.WhoAmI
	require.NoError(t, json.Unmarshal(raw, &me))
	require.Equal(t, server.LocalAdminUser, me.Username)
	require.Contains(t, me.Groups, "system:masters")

	code, raw = get(http.MethodGet, "/api/v1/projects", "")
	require.Equal(t, http.StatusOK, code, string(raw))

	code, raw = get(http.MethodPost, "/api/v1/projects/"+demo+"/warehouses/w/refresh", "")
	require.Equal(t, http.StatusOK, code, string(raw))
	var wh kargoapi.Warehouse
	require.NoError(t, json.Unmarshal(raw, &wh))
	require.NotEmpty(t, wh.Annotations["kargo.akuity.io/refresh"])

	// Plain HTTP is not served on a TLS address.
	resp, err := http.Get("http://" + srv.Addr().String() + "/api/v1/version")
	if err == nil {
		_ = resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	}
}

// TestStartFailsOnABusyAddress: a second server on the first one's address
// says so instead of serving nothing.
func TestStartFailsOnABusyAddress(t *testing.T) {
	cfg, err := apiserver.Config(env)
	require.NoError(t, err)
	srv, err := server.New(server.Options{Config: cfg, Addr: api.Addr().String()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.ErrorContains(t, srv.Start(ctx), "listen on "+api.Addr().String())
}
