package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// LocalAdminUser is the user a request with Options.LocalAdminToken is
// authenticated as.
const LocalAdminUser = "kargo-local-admin"

// localAdminGroups are the groups of LocalAdminUser: the cluster's
// administrators, since kargo local runs a cluster for one person.
var localAdminGroups = []string{"system:masters", "system:authenticated"}

// tokenReviewTTL is how long a successful TokenReview is trusted. A
// revoked token keeps working for at most this long.
const tokenReviewTTL = time.Minute

// authenticator turns bearer tokens into users.
type authenticator struct {
	// reviewer creates TokenReviews with the server's identity.
	reviewer client.Client
	// localAdmin is the SHA-256 of Options.LocalAdminToken, nil without one.
	localAdmin []byte
	now        func() time.Time

	mu      sync.Mutex
	reviews map[[sha256.Size]byte]review
}

type review struct {
	user    authenticationv1.UserInfo
	expires time.Time
}

func newAuthenticator(reviewer client.Client, localAdminToken string) *authenticator {
	a := &authenticator{reviewer: reviewer, now: time.Now, reviews: map[[sha256.Size]byte]review{}}
	if localAdminToken != "" {
		sum := sha256.Sum256([]byte(localAdminToken))
		a.localAdmin = sum[:]
	}
	return a
}

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
	now := a.now()
	a.mu.Lock()
	cached, hit := a.reviews[key]
	a.mu.Unlock()
	if hit && now.Before(cached.expires) {
		return cached.user, nil
	}

	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	if err := a.reviewer.Create(ctx, tr); err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("review a bearer token: %w", err)
	}
	if !tr.Status.Authenticated || tr.Status.User.Username == "" {
		return authenticationv1.UserInfo{}, unauthorized("the bearer token was not accepted (expired, revoked or for another cluster): run `kargo login` again")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.reviews) >= 10000 {
		a.pruneLocked(now)
	}
	a.reviews[key] = review{user: tr.Status.User, expires: now.Add(tokenReviewTTL)}
	return tr.Status.User, nil
}

// pruneLocked drops expired reviews, and all of them if that is not
// enough: the cache only saves TokenReviews, it never decides.
func (a *authenticator) pruneLocked(now time.Time) {
	for k, r := range a.reviews {
		if !now.Before(r.expires) {
			delete(a.reviews, k)
		}
	}
	if len(a.reviews) >= 10000 {
		clear(a.reviews)
	}
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
