// Package githubapi is a local HTTP server that answers the one GitHub REST
// API call kargo makes for GitHub App credentials,
// POST /app/installations/{installation_id}/access_tokens, as GitHub
// documents it. Tests use it because the real GitHub cannot be reached from
// them (no network, no App of kargo's own); it follows the documentation
// only, and is no substitute for trying an App against github.com.
//
// What it checks, as documented: the Authorization header is "Bearer " and a
// JWT signed RS256 with the App's private key; its iss is the App's ID; its
// iat is not in the future and its exp is in the future and at most ten
// minutes after iat. A bad token gets 401, an unknown installation 404,
// both with GitHub's {"message", "documentation_url"} body. Success is 201
// with {"token", "expires_at", "permissions", "repository_selection"}.
package githubapi

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the fake API.
type Server struct {
	*httptest.Server
	// AppID is the App whose JWTs are accepted, signed by Key.
	AppID string
	Key   *rsa.PublicKey
	// Installations maps installation IDs to the token issued for them.
	Installations map[string]string
	// Now is the server's clock.
	Now func() time.Time

	mu       sync.Mutex
	requests int
}

// New starts the API over TLS (as api.github.com and GitHub Enterprise
// Server serve it) for the test's duration.
func New(t testing.TB, appID string, key *rsa.PublicKey, installations map[string]string) *Server {
	s := &Server{AppID: appID, Key: key, Installations: installations, Now: time.Now}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Requests counts the token requests answered.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"message":           msg,
		"documentation_url": "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app",
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	rest, ok := strings.CutPrefix(r.URL.Path, "/app/installations/")
	id, ok2 := strings.CutSuffix(rest, "/access_tokens")
	if !ok || !ok2 || r.Method != http.MethodPost {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		fail(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
		return
	}
	if msg := s.checkJWT(jwt); msg != "" {
		fail(w, http.StatusUnauthorized, msg)
		return
	}
	token, ok := s.Installations[id]
	if !ok {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token":                token,
		"expires_at":           s.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"permissions":          map[string]string{"contents": "write", "metadata": "read"},
		"repository_selection": "all",
	})
}

func (s *Server) checkJWT(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "A JSON web token could not be decoded"
	}
	enc := base64.RawURLEncoding
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
		Iss string `json:"iss"`
	}
	h, err1 := enc.DecodeString(parts[0])
	c, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(h, &header) != nil || json.Unmarshal(c, &claims) != nil {
		return "A JSON web token could not be decoded"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if header.Alg != "RS256" || rsa.VerifyPKCS1v15(s.Key, crypto.SHA256, sum[:], sig) != nil {
		return "A JSON web token could not be decoded"
	}
	now := s.Now().Unix()
	switch {
	case claims.Iss != s.AppID:
		return fmt.Sprintf("Integration not found (iss %q)", claims.Iss)
	case claims.Iat > now:
		return "'Issued at' claim ('iat') must be an Integer representing a time in the past."
	case claims.Exp <= now:
		return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires."
	case claims.Exp-claims.Iat > 600:
		return "'Expiration time' claim ('exp') is too far in the future"
	}
	return ""
}
