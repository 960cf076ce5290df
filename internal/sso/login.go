package sso

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// LoginOptions say how the CLI signs a user in.
type LoginOptions struct {
	// IssuerURL and ClientID name the provider and the CLI's client there.
	IssuerURL, ClientID string
	// Scopes are asked for; offline_access is added, for a refresh token.
	Scopes []string
	// HTTPClient talks to the provider; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Device uses the device flow (RFC 8628): the user opens a URL and
	// types a code on any device. Otherwise the authorization-code flow
	// with PKCE redirects the browser back to a listener on 127.0.0.1.
	Device bool
	// Open opens a URL in the user's browser; when nil, or when it fails,
	// the user opens the URL printed on Out themselves.
	Open func(url string) error
	// Out is where the URL (and the device flow's code) is printed.
	Out io.Writer
}

// Tokens are what a sign-in or a refresh returns.
type Tokens struct {
	// IDToken is the bearer token the API server accepts.
	IDToken string
	// RefreshToken, when the provider gave one, gets a new IDToken
	// without signing in again.
	RefreshToken string
}

func (o *LoginOptions) context(ctx context.Context) context.Context {
	if o.HTTPClient == nil {
		return ctx
	}
	return oidc.ClientContext(ctx, o.HTTPClient)
}

func (o *LoginOptions) oauth2Config(ctx context.Context) (*oauth2.Config, error) {
	p, err := oidc.NewProvider(o.context(ctx), o.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("read the discovery document of OpenID provider %s: %w", o.IssuerURL, err)
	}
	scopes := append([]string{}, o.Scopes...)
	if len(scopes) == 0 {
		scopes = append(scopes, DefaultScopes...)
	}
	scopes = append(scopes, oidc.ScopeOfflineAccess)
	return &oauth2.Config{ClientID: o.ClientID, Endpoint: p.Endpoint(), Scopes: scopes}, nil
}

// Login signs the user in and returns their tokens.
func Login(ctx context.Context, o LoginOptions) (*Tokens, error) {
	cfg, err := o.oauth2Config(ctx)
	if err != nil {
		return nil, err
	}
	if o.Device {
		return deviceLogin(ctx, o, cfg)
	}
	return browserLogin(ctx, o, cfg)
}

// browserLogin is the authorization-code flow with PKCE (RFC 7636) and a
// loopback redirect (RFC 8252): only this process, which holds the
// verifier, can redeem the code the browser brings back.
func browserLogin(ctx context.Context, o LoginOptions, cfg *oauth2.Config) (*Tokens, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the provider's redirect: %w", err)
	}
	defer ln.Close()
	cfg.RedirectURL = fmt.Sprintf("http://%s/callback", ln.Addr())
	state, err := randomString()
	if err != nil {
		return nil, err
	}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	type outcome struct {
		code string
		err  error
	}
	got := make(chan outcome, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var res outcome
		switch {
		case q.Get("state") != state:
			// Not this sign-in's redirect: a stale tab, or another page
			// trying its own code on us. Keep waiting for ours.
			http.Error(w, "this sign-in link is not the one kargo login is waiting for", http.StatusBadRequest)
			return
		case q.Get("error") != "":
			res.err = fmt.Errorf("the provider refused the sign-in: %s %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			res.err = errors.New("the provider's redirect carries no code")
		default:
			res.code = q.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		msg := "Signed in. You can close this tab and return to the terminal."
		if res.err != nil {
			msg = "Sign-in failed: " + res.err.Error()
		}
		fmt.Fprintf(w, "<!doctype html><title>kargo login</title><p>%s</p>\n", html.EscapeString(msg))
		select {
		case got <- res:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	fmt.Fprintf(o.Out, "Open this URL in a browser on this machine to sign in:\n\n  %s\n\n", authURL)
	if o.Open != nil {
		if err := o.Open(authURL); err == nil {
			fmt.Fprintln(o.Out, "(a browser was opened; waiting for the sign-in to finish)")
		}
	}
	var res outcome
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the sign-in: %w", ctx.Err())
	case res = <-got:
	}
	if res.err != nil {
		return nil, res.err
	}
	tok, err := cfg.Exchange(o.context(ctx), res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("redeem the sign-in code: %w", err)
	}
	return tokensOf(tok)
}

// deviceLogin is the device authorization grant (RFC 8628), for a machine
// without a browser: the user signs in elsewhere and types a code.
func deviceLogin(ctx context.Context, o LoginOptions, cfg *oauth2.Config) (*Tokens, error) {
	if cfg.Endpoint.DeviceAuthURL == "" {
		return nil, fmt.Errorf("OpenID provider %s does not offer the device flow (its discovery document has no device_authorization_endpoint); sign in without --device", o.IssuerURL)
	}
	da, err := cfg.DeviceAuth(o.context(ctx))
	if err != nil {
		return nil, fmt.Errorf("start the device flow: %w", err)
	}
	where := da.VerificationURIComplete
	if where == "" {
		where = da.VerificationURI
	}
	fmt.Fprintf(o.Out, "On any device, open\n\n  %s\n\nand enter the code %s\n\n", where, da.UserCode)
	tok, err := cfg.DeviceAccessToken(o.context(ctx), da)
	if err != nil {
		return nil, fmt.Errorf("wait for the device sign-in: %w", err)
	}
	return tokensOf(tok)
}

// Refresh returns new tokens for a refresh token.
func Refresh(ctx context.Context, o LoginOptions, refreshToken string) (*Tokens, error) {
	cfg, err := o.oauth2Config(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := cfg.TokenSource(o.context(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, fmt.Errorf("refresh the single sign-on token: %w", err)
	}
	t, err := tokensOf(tok)
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

func tokensOf(tok *oauth2.Token) (*Tokens, error) {
	id, _ := tok.Extra("id_token").(string)
	if id == "" {
		return nil, errors.New("the provider returned no ID token (is the openid scope allowed for the client?)")
	}
	return &Tokens{IDToken: id, RefreshToken: tok.RefreshToken}, nil
}

func randomString() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random state: %w", err)
	}
	return hex.EncodeToString(b), nil
}
