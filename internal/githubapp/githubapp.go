// Package githubapp exchanges a GitHub App's credentials for installation
// access tokens, as GitHub documents it ("Authenticating as a GitHub App
// installation"): the App signs a JSON Web Token (RS256; iss the App's ID
// or client ID, iat a minute in the past against clock drift, exp at most
// ten minutes later) with its private key and POSTs it as a bearer token to
// /app/installations/{installation_id}/access_tokens of the REST API, which
// answers 201 with {"token": ..., "expires_at": ...}. The token is a
// password for HTTPS Git as the user x-access-token, valid for an hour.
//
// Tokens are cached per installation (and key) until five minutes before
// they expire, so a controller asks GitHub once an hour per installation,
// not once per poll. The request goes through the outbound address policy
// like every other connection the controller makes for a user's spec, and
// the API's address must be https:// (plain http:// only to loopback, for
// tests).
package githubapp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/kargohq/kargo/internal/credentials"
)

// DefaultBaseURL is github.com's REST API.
const DefaultBaseURL = "https://api.github.com"

// renewBefore is how long before its expiry a cached token is replaced.
const renewBefore = 5 * time.Minute

// Exchanger turns GitHub App credentials into installation tokens. It
// implements credentials.GitHubAppTokens; its methods are safe for
// concurrent use.
type Exchanger struct {
	// Client makes the requests; its transport should dial through the
	// outbound address policy. http.DefaultClient when nil.
	Client *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]token
}

type token struct {
	value   string
	expires time.Time
}

var (
	numeric = regexp.MustCompile(`^[0-9]{1,20}$`)
	// An App ID is numeric; a client ID is like "Iv23liABC".
	appID = regexp.MustCompile(`^[A-Za-z0-9.]{1,64}$`)
)

// Token returns an installation access token for app, from the cache when
// it has one that does not expire within five minutes.
func (x *Exchanger) Token(ctx context.Context, app credentials.GitHubApp) (string, error) {
	if !appID.MatchString(app.AppID) {
		return "", fmt.Errorf("GitHub App: githubAppID %q is not an App ID or client ID", app.AppID)
	}
	if !numeric.MatchString(app.InstallationID) {
		return "", fmt.Errorf("GitHub App %s: githubAppInstallationID %q is not a number", app.AppID, app.InstallationID)
	}
	base := strings.TrimSuffix(app.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return "", fmt.Errorf("GitHub App %s: githubAppBaseURL %q must be an https:// URL such as %s or https://github.example.com/api/v3", app.AppID, app.BaseURL, DefaultBaseURL)
	}
	keySum := sha256.Sum256(app.PrivateKey)
	cacheKey := base + "\x00" + app.AppID + "\x00" + app.InstallationID + "\x00" + hex.EncodeToString(keySum[:])
	now := x.now()
	x.mu.Lock()
	if t, ok := x.cache[cacheKey]; ok && now.Add(renewBefore).Before(t.expires) {
		x.mu.Unlock()
		return t.value, nil
	}
	x.mu.Unlock()

	key, err := parseKey(app.PrivateKey)
	if err != nil {
		return "", fmt.Errorf("GitHub App %s: githubAppPrivateKey: %w", app.AppID, err)
	}
	jwt, err := SignJWT(key, app.AppID, now)
	if err != nil {
		return "", fmt.Errorf("GitHub App %s: %w", app.AppID, err)
	}
	t, err := x.exchange(ctx, base+"/app/installations/"+app.InstallationID+"/access_tokens", jwt)
	if err != nil {
		return "", fmt.Errorf("GitHub App %s installation %s: %w", app.AppID, app.InstallationID, err)
	}
	x.mu.Lock()
	if x.cache == nil {
		x.cache = map[string]token{}
	}
	x.cache[cacheKey] = t
	x.mu.Unlock()
	return t.value, nil
}

func (x *Exchanger) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Exchanger) exchange(ctx context.Context, endpoint, jwt string) (token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(nil))
	if err != nil {
		return token{}, err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "kargo")
	c := x.Client
	if c == nil {
		c = http.DefaultClient
	}
	// A redirect would carry the JWT elsewhere.
	client := *c
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return token{}, fmt.Errorf("request an installation token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return token{}, fmt.Errorf("read the installation token: %w", err)
	}
	var answer struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
		Message   string    `json:"message"`
	}
	_ = json.Unmarshal(body, &answer)
	switch {
	case resp.StatusCode == http.StatusCreated && answer.Token != "":
		return token{value: answer.Token, expires: answer.ExpiresAt}, nil
	case resp.StatusCode == http.StatusUnauthorized:
		return token{}, fmt.Errorf("GitHub refused the App's token (%s): check githubAppID and githubAppPrivateKey, and the controller's clock", answer.Message)
	case resp.StatusCode == http.StatusNotFound:
		return token{}, fmt.Errorf("GitHub knows no such installation of the App: check githubAppInstallationID (%s)", answer.Message)
	}
	return token{}, fmt.Errorf("GitHub answered %s to the installation token request: %s", resp.Status, answer.Message)
}

// SignJWT returns the JWT that authenticates as the App issuer at now.
func SignJWT(key *rsa.PrivateKey, issuer string, now time.Time) (string, error) {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, err := json.Marshal(map[string]any{
		"iat": now.Add(-60 * time.Second).Unix(),
		"exp": now.Add(9 * time.Minute).Unix(),
		"iss": issuer,
	})
	if err != nil {
		return "", err
	}
	signing := header + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign the App's token: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// parseKey reads the PEM private key GitHub hands out (PKCS#1), or a
// PKCS#8 one.
func parseKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM-encoded key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("not an RSA private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA private key")
	}
	return rk, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
