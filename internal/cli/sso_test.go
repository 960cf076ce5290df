package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/sso"
	"github.com/kargohq/kargo/internal/testutil/dex"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
)

// ssoServer starts Dex with alice and an API server that trusts it.
func ssoServer(t *testing.T) (*dex.Dex, *apiserver.Server) {
	t.Helper()
	d := dex.Start(t, dex.Options{Users: []dex.User{{Email: "alice@example.com", Groups: []string{"promoters"}}}})
	srv, err := apiserver.Start(env, server.Options{OIDC: &sso.Config{IssuerURL: d.Issuer, ClientID: dex.UIClient, CLIClientID: dex.CLIClient}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	return d, srv
}

// kargo login --sso opens the browser on the provider's page; the user
// signs in there and the provider redirects back to the command, which
// keeps the ID token and its refresh token.
func TestLoginWithSSOInTheBrowser(t *testing.T) {
	d, srv := ssoServer(t)
	h := newHarness(t, false)
	signedIn := make(chan error, 1)
	h.g.openBrowser = func(url string) error {
		require.Contains(t, url, "code_challenge_method=S256", "PKCE")
		go func() {
			_, err := d.SignIn(context.Background(), url, "alice@example.com", dex.Password)
			signedIn <- err
		}()
		return nil
	}
	r := h.run("login", srv.URL, "--sso")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.NoError(t, <-signedIn)
	require.Equal(t, "Logged in to "+srv.URL+" as oidc:alice@example.com\n", r.stdout)
	require.Contains(t, r.stderr, "Open this URL in a browser on this machine")
	cfg := readConfig(t, h.config)
	require.NotNil(t, cfg.SSO)
	require.Equal(t, dex.CLIClient, cfg.SSO.ClientID)
	require.NotEmpty(t, cfg.SSO.RefreshToken)
	require.Equal(t, 0o600, int(fileMode(t, h.config)), "the config holds a refresh token")

	t.Run("kargo config view hides the refresh token", func(t *testing.T) {
		r := h.run("config", "view")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.NotContains(t, r.stdout, cfg.SSO.RefreshToken)
		require.Contains(t, r.stdout, "refreshToken: REDACTED")
	})

	t.Run("a token about to expire is refreshed", func(t *testing.T) {
		exp, ok := tokenExpiry(cfg.Token)
		require.True(t, ok)
		g := *h.g
		g.now = func() time.Time { return exp.Add(-30 * time.Second) }
		var out, errOut syncBuffer
		code := execute(context.Background(), []string{"--config", h.config, "get", "projects"}, strings.NewReader(""), &out, &errOut, &g)
		// alice may not list Projects; what matters is who asked.
		require.Equal(t, ExitError, code)
		require.Contains(t, errOut.String(), `user "oidc:alice@example.com" may not list projects`)
		after := readConfig(t, h.config)
		require.NotEqual(t, cfg.Token, after.Token, "a new ID token")
		require.NotEmpty(t, after.SSO.RefreshToken)
	})

	t.Run("a server without single sign-on says so", func(t *testing.T) {
		r := h.run("login", api.URL, "--sso")
		require.Equal(t, ExitError, r.code)
		require.Contains(t, r.stderr, "offers no single sign-on")
	})
}

var (
	deviceURL  = regexp.MustCompile(`(?m)^  (http\S+)$`)
	deviceCode = regexp.MustCompile(`enter the code (\S+)`)
)

// kargo login --sso --device prints a URL and a code to type on another
// device, and waits until the user has.
func TestLoginWithSSOOnAnotherDevice(t *testing.T) {
	d, srv := ssoServer(t)
	h := newHarness(t, false)
	h.g.openBrowser = func(string) error { t.Error("the device flow opens no browser here"); return nil }
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	g := *h.g
	go func() {
		done <- execute(context.Background(), []string{"--config", h.config, "login", srv.URL, "--sso", "--device"}, strings.NewReader(""), &stdout, &stderr, &g)
	}()
	var url, code string
	kubetest.Eventually(t, 30*time.Second, "kargo login prints the URL and the code", func() (bool, string) {
		u, c := deviceURL.FindStringSubmatch(stderr.String()), deviceCode.FindStringSubmatch(stderr.String())
		if u == nil || c == nil {
			return false, stderr.String()
		}
		url, code = u[1], c[1]
		return true, ""
	})
	_, err := d.DeviceSignIn(context.Background(), url, code, "alice@example.com", dex.Password)
	require.NoError(t, err)
	select {
	case c := <-done:
		require.Equal(t, ExitOK, c, stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("kargo login did not finish after the sign-in:\n%s", stderr.String())
	}
	require.Equal(t, "Logged in to "+srv.URL+" as oidc:alice@example.com\n", stdout.String())
}

// The sign-in is refused for a wrong password, and kargo login keeps the
// old configuration.
func TestLoginWithSSOKeepsTheConfigWhenTheSignInFails(t *testing.T) {
	d, srv := ssoServer(t)
	h := newHarness(t, false)
	before := readConfig(t, h.config)
	failed := make(chan string, 1)
	h.g.openBrowser = func(url string) error {
		go func() {
			page, _ := d.SignIn(context.Background(), url, "alice@example.com", "wrong")
			failed <- page
		}()
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, res := h.start(ctx, "login", srv.URL, "--sso")
	page := <-failed
	require.Contains(t, page, "Invalid", "Dex says the password is wrong")
	cancel()
	r := <-res
	require.Equal(t, ExitError, r.code)
	require.Equal(t, before, readConfig(t, h.config))
}
