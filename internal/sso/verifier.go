package sso

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	authenticationv1 "k8s.io/api/authentication/v1"
)

// authenticatedGroup is the group Kubernetes puts every authenticated user
// in; an OIDC user is in it too, as with the Kubernetes API server's own
// OIDC authenticator.
const authenticatedGroup = "system:authenticated"

// Refused is the answer to an ID token that is not accepted, with a reason
// a user can act on.
type Refused struct {
	Reason string
}

func (r *Refused) Error() string { return r.Reason }

// Verifier checks ID tokens of one provider and maps them to users.
type Verifier struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	// tokenURL is the provider's token endpoint, from discovery.
	tokenURL string
}

// NewVerifier returns a verifier of cfg's provider. The provider is first
// contacted when a token is verified, so that an API server starts (and
// serves its Kubernetes-token users) while the provider is down.
func NewVerifier(cfg Config) (*Verifier, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	hc, err := httpClient(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	return &Verifier{cfg: cfg, client: hc}, nil
}

// Config returns the verifier's configuration, defaults filled in.
func (v *Verifier) Config() Config { return v.cfg }

func httpClient(caFile string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read the OpenID provider's CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the OpenID provider's CA file %s holds no PEM certificate", caFile)
		}
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}, nil
}

// Issued reports whether token claims to come from the provider: a JWT
// whose iss is the issuer URL. Nothing is verified; tokens that claim it
// are judged by Authenticate alone, and never sent to the Kubernetes API
// server for review.
func (v *Verifier) Issued(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	return json.Unmarshal(raw, &claims) == nil && claims.Iss == v.cfg.IssuerURL
}

// idVerifier returns the go-oidc verifier, reading the provider's
// discovery document the first time.
func (v *Verifier) idVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	// The key set outlives this request: it keeps only the HTTP client
	// of the context.
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), v.client)
	p, err := oidc.NewProvider(pctx, v.cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("read the discovery document of OpenID provider %s: %w", v.cfg.IssuerURL, err)
	}
	// Both clients' tokens are accepted: the audience is checked in
	// Authenticate.
	v.verifier = p.Verifier(&oidc.Config{SkipClientIDCheck: true})
	v.tokenURL = p.Endpoint().TokenURL
	return v.verifier, nil
}

// BrowserOrigins are the origins the web UI calls during a sign-in: the
// issuer's (discovery) and the token endpoint's, which may differ. Without
// the provider's discovery document, only the issuer's.
func (v *Verifier) BrowserOrigins(ctx context.Context) []string {
	origins := []string{originOf(v.cfg.IssuerURL)}
	if _, err := v.idVerifier(ctx); err == nil {
		v.mu.Lock()
		if o := originOf(v.tokenURL); o != "" && o != origins[0] {
			origins = append(origins, o)
		}
		v.mu.Unlock()
	}
	return origins
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Authenticate verifies token (signature, issuer, audience, expiry) and
// returns the user it maps to: the prefixed username claim, and the
// prefixed groups plus system:authenticated. A token that is not accepted
// is a *Refused; another error means the provider could not be asked.
func (v *Verifier) Authenticate(ctx context.Context, token string) (authenticationv1.UserInfo, error) {
	iv, err := v.idVerifier(ctx)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	id, err := iv.Verify(oidc.ClientContext(ctx, v.client), token)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return authenticationv1.UserInfo{}, &Refused{Reason: fmt.Sprintf("the single sign-on token expired at %s: sign in again (kargo login --sso)", expired.Expiry.UTC().Format(time.RFC3339))}
		}
		return authenticationv1.UserInfo{}, &Refused{Reason: fmt.Sprintf("the single sign-on token was not accepted: %v", err)}
	}
	if !slices.Contains(id.Audience, v.cfg.ClientID) && !slices.Contains(id.Audience, v.cfg.CLIClientID) {
		return authenticationv1.UserInfo{}, &Refused{Reason: fmt.Sprintf("the single sign-on token is for client %s, not kargo's", strings.Join(id.Audience, ", "))}
	}
	var claims map[string]any
	if err := id.Claims(&claims); err != nil {
		return authenticationv1.UserInfo{}, &Refused{Reason: fmt.Sprintf("the single sign-on token's claims are not JSON: %v", err)}
	}
	return v.userOf(claims)
}

// userOf maps verified claims to a user.
func (v *Verifier) userOf(claims map[string]any) (authenticationv1.UserInfo, error) {
	name, _ := claims[v.cfg.UsernameClaim].(string)
	if name == "" {
		return authenticationv1.UserInfo{}, &Refused{Reason: fmt.Sprintf("the single sign-on token has no %q claim to name its user by", v.cfg.UsernameClaim)}
	}
	if v.cfg.UsernameClaim == "email" {
		// An unverified address may be anyone's: the Kubernetes API
		// server's OIDC authenticator refuses it too.
		if verified, ok := claims["email_verified"].(bool); !ok || !verified {
			return authenticationv1.UserInfo{}, &Refused{Reason: fmt.Sprintf("the provider has not verified the email address %s (email_verified is not true)", name)}
		}
	}
	var groups []string
	switch g := claims[v.cfg.GroupsClaim].(type) {
	case string:
		groups = []string{g}
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok && s != "" {
				groups = append(groups, s)
			}
		}
	}
	u := authenticationv1.UserInfo{Username: v.cfg.Prefix + name}
	for _, g := range groups {
		u.Groups = append(u.Groups, v.cfg.Prefix+g)
	}
	u.Groups = append(u.Groups, authenticatedGroup)
	return u, nil
}
