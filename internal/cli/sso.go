package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kargohq/kargo/internal/sso"
)

// refreshSSO replaces a single sign-on token that expires within a minute
// with a fresh one, when the config holds a refresh token, and saves it.
// Without one, or when the refresh fails, the old token is kept: the
// server's 401 then says to sign in again.
func (g *globals) refreshSSO(cfg *Config) error {
	if cfg.SSO == nil || cfg.SSO.RefreshToken == "" {
		return nil
	}
	exp, ok := tokenExpiry(cfg.Token)
	if !ok || g.now().Add(time.Minute).Before(exp) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t, err := sso.Refresh(ctx, sso.LoginOptions{IssuerURL: cfg.SSO.IssuerURL, ClientID: cfg.SSO.ClientID, Scopes: cfg.SSO.Scopes}, cfg.SSO.RefreshToken)
	if err != nil {
		return fmt.Errorf("%w; run kargo login %s --sso to sign in again", err, cfg.Server)
	}
	cfg.Token, cfg.SSO.RefreshToken = t.IDToken, t.RefreshToken
	return saveConfig(g.configPath(), cfg)
}

// tokenExpiry reads the exp claim of a JWT without verifying it: only to
// know when to refresh; the server judges the token.
func tokenExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Exp == 0 {
		return time.Time{}, false
	}
	return time.Unix(claims.Exp, 0), true
}

// openBrowser opens url in the user's browser: $BROWSER when set, else
// the desktop's opener. It returns once the opener started.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch b := os.Getenv("BROWSER"); {
	case b != "":
		cmd = exec.Command(b, url)
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", url)
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// bindOIDCFlags adds the flags that configure the API server's single
// sign-on to f, into c.
func bindOIDCFlags(f *pflag.FlagSet, c *sso.Config) {
	f.StringVar(&c.IssuerURL, "oidc-issuer-url", "", "issuer URL of the OpenID provider users sign in with (default: no single sign-on)")
	f.StringVar(&c.ClientID, "oidc-client-id", "", "the web UI's client ID at the provider: a public client redirecting to https://SERVER/login/callback")
	f.StringVar(&c.CLIClientID, "oidc-cli-client-id", "", "the CLI's client ID at the provider: a public client allowed loopback redirects (default: --oidc-client-id)")
	f.StringVar(&c.UsernameClaim, "oidc-username-claim", sso.DefaultUsernameClaim, "the ID token's claim that names the user")
	f.StringVar(&c.GroupsClaim, "oidc-groups-claim", sso.DefaultGroupsClaim, "the ID token's claim that lists the user's groups")
	f.StringVar(&c.Prefix, "oidc-prefix", sso.DefaultPrefix, "put before every username and group of the provider, so that none can be a Kubernetes user or system: group")
	f.StringSliceVar(&c.Scopes, "oidc-scopes", sso.DefaultScopes, "the scopes to ask the provider for")
	f.StringVar(&c.CAFile, "oidc-ca-file", "", "PEM bundle to trust for the provider's certificate instead of the system's")
}

// oidcOptions returns c when single sign-on is configured, else nil.
func oidcOptions(c *sso.Config) *sso.Config {
	if c.IssuerURL == "" {
		return nil
	}
	return c
}
