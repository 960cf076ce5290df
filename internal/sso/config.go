package sso

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Defaults of Config.
const (
	DefaultUsernameClaim = "email"
	DefaultGroupsClaim   = "groups"
	DefaultPrefix        = "oidc:"
)

// DefaultScopes are the scopes asked for when Config.Scopes is empty: the
// user's email and groups, for the default claims.
var DefaultScopes = []string{"openid", "profile", "email", "groups"}

// Config describes the OpenID provider kargo's users sign in with.
type Config struct {
	// IssuerURL is the provider's issuer, exactly as its ID tokens state
	// it (their iss claim); discovery is read from
	// IssuerURL/.well-known/openid-configuration.
	IssuerURL string
	// ClientID is the web UI's client: a public client (no secret) that
	// redirects back to the UI's /login/callback.
	ClientID string
	// CLIClientID is the CLI's client, a public client allowed to redirect
	// to loopback addresses and, where the provider has it, to use the
	// device flow; ClientID when empty.
	CLIClientID string
	// UsernameClaim names the claim that becomes the username;
	// DefaultUsernameClaim when empty. With "email", the token must also
	// say email_verified: true.
	UsernameClaim string
	// GroupsClaim names the claim holding the user's groups (a list of
	// strings, or one string); DefaultGroupsClaim when empty.
	GroupsClaim string
	// Prefix is put before the username and every group; DefaultPrefix
	// when empty. It may not be a prefix of "system:" nor start with it.
	Prefix string
	// Scopes are asked for at sign-in; DefaultScopes when empty.
	Scopes []string
	// CAFile is a PEM bundle trusted for the provider's certificate
	// instead of the system's roots, for the API server's requests to it.
	CAFile string
}

// WithDefaults returns c with its empty fields set to their defaults, or
// an error saying what is wrong with it.
func (c Config) WithDefaults() (Config, error) {
	if c.IssuerURL == "" {
		return c, errors.New("single sign-on needs the provider's issuer URL")
	}
	u, err := url.Parse(c.IssuerURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return c, fmt.Errorf("the issuer URL %q is not an http(s) URL", c.IssuerURL)
	}
	if c.ClientID == "" {
		return c, errors.New("single sign-on needs the client ID the web UI signs in with")
	}
	if c.CLIClientID == "" {
		c.CLIClientID = c.ClientID
	}
	if c.UsernameClaim == "" {
		c.UsernameClaim = DefaultUsernameClaim
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = DefaultGroupsClaim
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	// Kubernetes reserves system: for its own users and groups; a prefix
	// that starts one ("sys", "system:") would let the provider name them.
	if strings.HasPrefix("system:", c.Prefix) || strings.HasPrefix(c.Prefix, "system:") {
		return c, fmt.Errorf("the prefix %q would let the provider's users claim Kubernetes' own system: users and groups; choose another, such as %q", c.Prefix, DefaultPrefix)
	}
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes
	}
	return c, nil
}
