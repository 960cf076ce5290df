// Package dex runs Dex, a real OpenID Connect provider (built from source
// by hack/dex-bins.sh), on loopback for the single sign-on tests: memory
// storage, the static-password connector with users and groups of the
// test's choosing, and public clients for kargo's web UI and CLI. It also
// signs a user in through Dex's own login pages as a browser would, for
// tests that drive the CLI's flows.
package dex

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// The clients Dex knows.
const (
	// UIClient is the web UI's public client; its redirect URIs are
	// Options.UIRedirectURIs.
	UIClient = "kargo-ui"
	// CLIClient is the CLI's public client, with no redirect URIs, so
	// that Dex allows any loopback redirect and the device flow.
	CLIClient = "kargo-cli"
	// OtherClient is a confidential client of another application, whose
	// tokens kargo must refuse; its secret is OtherClientSecret.
	OtherClient       = "other-app"
	OtherClientSecret = "other-app-secret"
)

// Password is every user's password.
const Password = "password"

// passwordHash is bcrypt(Password), as Dex's static passwords hold it:
// the tests need no bcrypt of their own.
const passwordHash = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"

// User is a user of the static-password connector, whose password is
// Password.
type User struct {
	Email  string
	Groups []string
}

// Options configure a Dex.
type Options struct {
	Users []User
	// UIRedirectURIs are the web UI client's redirect URIs.
	UIRedirectURIs []string
	// AllowedOrigins may call Dex from a browser (CORS), such as the web
	// UI's origin.
	AllowedOrigins []string
}

// Dex is a running Dex.
type Dex struct {
	// Issuer is the issuer URL: http://127.0.0.1:PORT/dex.
	Issuer string
}

// Binary returns the dex binary: $KARGO_DEX, or the one hack/dex-bins.sh
// builds (a cache hit takes milliseconds, a cold build minutes).
func Binary() (string, error) {
	return kubetest.HackBuilt("KARGO_DEX", "dex-bins.sh", nil)
}

// Start starts Dex for the test and stops it when the test ends. It fails
// the test when Dex cannot be built or started; it never skips.
func Start(t testing.TB, opts Options) *Dex {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("build Dex: %v (hack/dex-bins.sh builds it; KARGO_DEX names a binary)", err)
	}
	port := freePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d/dex", port)
	type password struct {
		Email    string   `json:"email"`
		Hash     string   `json:"hash"`
		Username string   `json:"username"`
		UserID   string   `json:"userID"`
		Groups   []string `json:"groups,omitempty"`
	}
	var passwords []password
	for i, u := range opts.Users {
		name, _, _ := strings.Cut(u.Email, "@")
		passwords = append(passwords, password{Email: u.Email, Hash: passwordHash, Username: name, UserID: fmt.Sprintf("user-%d", i), Groups: u.Groups})
	}
	cfg := map[string]any{
		"issuer":  issuer,
		"storage": map[string]any{"type": "memory"},
		"web":     map[string]any{"http": fmt.Sprintf("127.0.0.1:%d", port), "allowedOrigins": opts.AllowedOrigins},
		"logger":  map[string]any{"level": "info"},
		"oauth2":  map[string]any{"skipApprovalScreen": true, "passwordConnector": "local"},
		"staticClients": []map[string]any{
			{"id": UIClient, "name": "kargo", "public": true, "redirectURIs": opts.UIRedirectURIs},
			{"id": CLIClient, "name": "kargo CLI", "public": true},
			{"id": OtherClient, "name": "Another application", "secret": OtherClientSecret, "redirectURIs": []string{"http://127.0.0.1:1/callback"}},
		},
		"enablePasswordDB": true,
		"staticPasswords":  passwords,
	}
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("encode Dex config: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatalf("write Dex config: %v", err)
	}
	log, err := os.Create(filepath.Join(dir, "dex.log"))
	if err != nil {
		t.Fatalf("Dex log: %v", err)
	}
	cmd := exec.Command(bin, "serve", path)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Dex: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("Dex's log:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(issuer + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &Dex{Issuer: issuer}
			}
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("Dex exited: %v\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Dex did not serve its discovery document within 30 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// PasswordToken returns an ID token for the user from the password grant
// of client (a public client needs no secret).
func (d *Dex) PasswordToken(ctx context.Context, client, secret, email, password string) (string, error) {
	form := url.Values{
		"grant_type": {"password"}, "username": {email}, "password": {password},
		"scope": {"openid email profile groups"}, "client_id": {client},
	}
	if secret != "" {
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("ask Dex for a token: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("Dex refused the password grant: %s %s", resp.Status, body)
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := yaml.Unmarshal(body, &tok); err != nil || tok.IDToken == "" {
		return "", fmt.Errorf("Dex's token response has no id_token: %s", body)
	}
	return tok.IDToken, nil
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// browser is an HTTP client with cookies that follows redirects, as a
// browser does.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// SignIn opens authURL (the sign-in URL kargo login --sso prints) and signs
// in on Dex's password page as a browser would, following every redirect,
// back to the CLI's loopback listener too. It returns the last page.
func (d *Dex) SignIn(ctx context.Context, authURL, email, password string) (string, error) {
	b := browser()
	page, at, err := get(ctx, b, authURL)
	if err != nil {
		return "", err
	}
	return submitPassword(ctx, b, page, at, email, password)
}

// DeviceSignIn signs in with the device flow's user code at verifyURL (the
// verification URI kargo login --sso --device prints).
func (d *Dex) DeviceSignIn(ctx context.Context, verifyURL, userCode, email, password string) (string, error) {
	b := browser()
	page, at, err := get(ctx, b, verifyURL)
	if err != nil {
		return "", err
	}
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		return "", fmt.Errorf("no form on Dex's device page %s: %s", at, page)
	}
	page, at, err = post(ctx, b, at, html.UnescapeString(m[1]), url.Values{"user_code": {userCode}})
	if err != nil {
		return "", err
	}
	return submitPassword(ctx, b, page, at, email, password)
}

func submitPassword(ctx context.Context, b *http.Client, page string, at *url.URL, email, password string) (string, error) {
	m := formAction.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `name="password"`) {
		return "", fmt.Errorf("no password form at %s: %s", at, page)
	}
	page, _, err := post(ctx, b, at, html.UnescapeString(m[1]), url.Values{"login": {email}, "password": {password}})
	return page, err
}

func get(ctx context.Context, b *http.Client, u string) (string, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", nil, err
	}
	return do(b, req)
}

func post(ctx context.Context, b *http.Client, base *url.URL, action string, form url.Values) (string, *url.URL, error) {
	target, err := base.Parse(action)
	if err != nil {
		return "", nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(b, req)
}

func do(b *http.Client, req *http.Request) (string, *url.URL, error) {
	resp, err := b.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, err
	}
	if resp.StatusCode >= 400 {
		return string(body), resp.Request.URL, errors.New(resp.Status + " from " + resp.Request.URL.String() + ": " + string(body))
	}
	return string(body), resp.Request.URL, nil
}
