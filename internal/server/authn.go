package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/internal/sso"
)

// LocalAdminUser is the user a request with Options.LocalAdminToken is
// authenticated as.
const LocalAdminUser = "kargo-local-admin"

// localAdminGroups are the groups of LocalAdminUser: the cluster's
// administrators, since kargo local runs a cluster for one person.
var localAdminGroups = []string{"system:masters", "system:authenticated"}

// tokenReviewTTL is how long a successful TokenReview is trusted, and
// never past the expiry a JWT states. A revoked token keeps working for at
// most this long.
const tokenReviewTTL = time.Minute

// refusedTokenTTL is how long a refused token is answered 401 without
// asking again, so that a client (or an attacker) repeating a bad token
// costs the Kubernetes API server one TokenReview per token, not one per
// request. A token is refused because it is unknown, expired or revoked,
// none of which it recovers from, so the refusal may be remembered longer
// than a success; it is kept short anyway, for static token files that are
// edited.
const refusedTokenTTL = 30 * time.Second

// maxRemembered bounds each of the remembered successes and refusals: a
// flood of distinct tokens costs memory only up to this.
const maxRemembered = 10000

// authenticator turns bearer tokens into users.
type authenticator struct {
	// reviewer creates TokenReviews with the server's identity.
	reviewer client.Client
	// localAdmin is the SHA-256 of Options.LocalAdminToken, nil without one.
	localAdmin []byte
	// oidc verifies the ID tokens of the OpenID provider, nil without one.
	oidc *sso.Verifier
	now  func() time.Time
	// inflight makes concurrent requests with one token share a review.
	inflight singleflight.Group

	mu      sync.Mutex
	reviews map[[sha256.Size]byte]review
	refused map[[sha256.Size]byte]time.Time
	// revoked holds the UIDs of ServiceAccounts whose API tokens were
	// revoked here lately, until when to refuse them.
	revoked map[string]time.Time
}

type review struct {
	user    authenticationv1.UserInfo
	expires time.Time
}

func newAuthenticator(reviewer client.Client, localAdminToken string, oidc *sso.Verifier) *authenticator {
	a := &authenticator{
		reviewer: reviewer, now: time.Now, oidc: oidc,
		reviews: map[[sha256.Size]byte]review{}, refused: map[[sha256.Size]byte]time.Time{},
		revoked: map[string]time.Time{},
	}
	if localAdminToken != "" {
		sum := sha256.Sum256([]byte(localAdminToken))
		a.localAdmin = sum[:]
	}
	return a
}

// errTokenRefused is the 401 for a token the Kubernetes API server did not
// accept.
var errTokenRefused = unauthorized("the bearer token was not accepted (expired, revoked or for another cluster): run `kargo login` again")

// authenticate returns the user whose bearer token r carries, or a 401
// saying how to get one.
func (a *authenticator) authenticate(ctx context.Context, r *http.Request) (authenticationv1.UserInfo, error) {
	token, ok := bearerToken(r)
	if !ok {
		return authenticationv1.UserInfo{}, unauthorized("no bearer token: run `kargo login` to sign in to the kargo API server")
	}
	// Tokens are only ever held as their digest: a memory dump or a log of
	// the cache reveals none.
	key := sha256.Sum256([]byte(token))
	if a.localAdmin != nil && subtle.ConstantTimeCompare(key[:], a.localAdmin) == 1 {
		return authenticationv1.UserInfo{Username: LocalAdminUser, Groups: localAdminGroups}, nil
	}
	if a.oidc != nil && a.oidc.Issued(token) {
		// The provider's tokens are judged here alone: the Kubernetes API
		// server may know the same issuer with another prefix, or none.
		u, err := a.oidc.Authenticate(ctx, token)
		var refused *sso.Refused
		if errors.As(err, &refused) {
			return authenticationv1.UserInfo{}, unauthorized("%s", refused.Reason)
		}
		if err != nil {
			return authenticationv1.UserInfo{}, newError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
				"the single sign-on token cannot be checked now: %v", err)
		}
		return u, nil
	}
	u, err := a.review(ctx, key, token)
	if err == nil && a.isRevoked(u) {
		return authenticationv1.UserInfo{}, errTokenRefused
	}
	return u, err
}

// review returns the user of a Kubernetes token: the remembered review, or
// a new TokenReview.
func (a *authenticator) review(ctx context.Context, key [sha256.Size]byte, token string) (authenticationv1.UserInfo, error) {
	if u, err, ok := a.remembered(key); ok {
		return u, err
	}
	v, err, _ := a.inflight.Do(string(key[:]), func() (any, error) {
		// Another request may have finished the review meanwhile.
		if u, err, ok := a.remembered(key); ok {
			return u, err
		}
		// The review outlives the request that asked: the others
		// waiting on it are not cancelled with it.
		tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
		if err := a.reviewer.Create(context.WithoutCancel(ctx), tr); err != nil {
			return nil, fmt.Errorf("review a bearer token: %w", err)
		}
		now := a.now()
		a.mu.Lock()
		defer a.mu.Unlock()
		if !tr.Status.Authenticated || tr.Status.User.Username == "" {
			if len(a.refused) >= maxRemembered {
				pruneLocked(a.refused, now, func(expires time.Time) time.Time { return expires })
			}
			a.refused[key] = now.Add(refusedTokenTTL)
			return nil, errTokenRefused
		}
		expires := now.Add(tokenReviewTTL)
		if exp, ok := jwtExpiry(token); ok && exp.Before(expires) {
			expires = exp
		}
		if len(a.reviews) >= maxRemembered {
			pruneLocked(a.reviews, now, func(r review) time.Time { return r.expires })
		}
		a.reviews[key] = review{user: tr.Status.User, expires: expires}
		return tr.Status.User, nil
	})
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return v.(authenticationv1.UserInfo), nil
}

// revokedTTL is how long a revoked ServiceAccount stays refused by this
// server regardless of TokenReviews: longer than the Kubernetes API
// server's own cache of token reviews (10 s) and than tokenReviewTTL.
const revokedTTL = 2 * time.Minute

// revoke refuses the tokens of the ServiceAccount with uid from now on,
// and drops the remembered reviews of username's tokens: a revoked API
// token is refused at once by this server, although the Kubernetes API
// server may accept it for a few seconds more.
func (a *authenticator) revoke(username string, uid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, r := range a.reviews {
		if r.user.Username == username {
			delete(a.reviews, k)
		}
	}
	now := a.now()
	for u, exp := range a.revoked {
		if !now.Before(exp) {
			delete(a.revoked, u)
		}
	}
	a.revoked[uid] = now.Add(revokedTTL)
}

// isRevoked reports whether u's ServiceAccount was revoked lately.
func (a *authenticator) isRevoked(u authenticationv1.UserInfo) bool {
	if u.UID == "" {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.revoked[u.UID]
	return ok && a.now().Before(exp)
}

// remembered returns the remembered answer for the token with digest key:
// its user, or the refusal; ok is false when there is none.
func (a *authenticator) remembered(key [sha256.Size]byte) (authenticationv1.UserInfo, error, bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if r, hit := a.reviews[key]; hit && now.Before(r.expires) {
		return r.user, nil, true
	}
	if expires, hit := a.refused[key]; hit && now.Before(expires) {
		return authenticationv1.UserInfo{}, errTokenRefused, true
	}
	return authenticationv1.UserInfo{}, nil, false
}

// pruneLocked drops expired entries, and all of them if that is not
// enough: the memory only saves TokenReviews, it never decides.
func pruneLocked[V any](m map[[sha256.Size]byte]V, now time.Time, expiry func(V) time.Time) {
	for k, v := range m {
		if !now.Before(expiry(v)) {
			delete(m, k)
		}
	}
	if len(m) >= maxRemembered {
		clear(m)
	}
}

// jwtExpiry returns the exp claim of a token that is a JWT, such as a
// ServiceAccount token. It is read without checking the signature, only to
// remember a review no longer than the token lives; the TokenReview alone
// decides whether the token is good.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *int64 `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	return time.Unix(*claims.Exp, 0), true
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
