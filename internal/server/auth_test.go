package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/kargohq/kargo/internal/authz"
	kargoscheme "github.com/kargohq/kargo/internal/scheme"
)

// reviewer is a fake API server that answers TokenReviews and
// SubjectAccessReviews with answer, counting the questions.
func reviewer(t *testing.T, answer func(obj client.Object) error) (client.Client, *int) {
	t.Helper()
	scheme, err := kargoscheme.New()
	require.NoError(t, err)
	asked := 0
	c := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			asked++
			return answer(obj)
		},
	}).Build()
	return c, &asked
}

func request(token string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	c, asked := reviewer(t, func(obj client.Object) error {
		tr := obj.(*authenticationv1.TokenReview)
		if tr.Spec.Token == "good" {
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: "alice", Groups: []string{"system:authenticated"}}}
		}
		return nil
	})
	a := newAuthenticator(c, "local-secret", nil)
	now := epoch
	a.now = func() time.Time { return now }
	ctx := context.Background()

	cases := []struct {
		name      string
		token     string
		advance   time.Duration
		wantUser  string
		wantCode  int32
		wantAsked int
	}{
		{name: "no token", wantCode: 401, wantAsked: 0},
		{name: "unknown token", token: "bad", wantCode: 401, wantAsked: 1},
		{name: "a refusal is remembered", token: "bad", advance: 29 * time.Second, wantCode: 401, wantAsked: 1},
		{name: "reviewed again after 30 seconds", token: "bad", advance: 2 * time.Second, wantCode: 401, wantAsked: 2},
		{name: "good token reviewed", token: "good", wantUser: "alice", wantAsked: 3},
		{name: "good token remembered", token: "good", advance: 59 * time.Second, wantUser: "alice", wantAsked: 3},
		{name: "reviewed again after a minute", token: "good", advance: 2 * time.Second, wantUser: "alice", wantAsked: 4},
		{name: "local admin needs no review", token: "local-secret", wantUser: LocalAdminUser, wantAsked: 4},
	}
	for _, c := range cases {
		now = now.Add(c.advance)
		u, err := a.authenticate(ctx, request(c.token))
		require.Equal(t, c.wantAsked, *asked, c.name)
		if c.wantCode != 0 {
			st, _ := statusOf(err)
			require.Equal(t, c.wantCode, st.Code, c.name)
			require.Contains(t, st.Message, "kargo login", c.name)
			continue
		}
		require.NoError(t, err, c.name)
		require.Equal(t, c.wantUser, u.Username, c.name)
	}

	// Only digests are kept, never tokens.
	require.Len(t, a.reviews, 1)
	require.Contains(t, a.reviews, sha256.Sum256([]byte("good")))
}

// TestAuthenticateRemembersNoLongerThanTheTokenLives: a JWT's exp claim
// shortens how long its review is trusted.
func TestAuthenticateRemembersNoLongerThanTheTokenLives(t *testing.T) {
	now := epoch
	claims := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"exp":%d}`, now.Add(10*time.Second).Unix()))
	jwt := "eyJhbGciOiJSUzI1NiJ9." + claims + ".c2lnbmF0dXJl"
	c, asked := reviewer(t, func(obj client.Object) error {
		obj.(*authenticationv1.TokenReview).Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: "sa"}}
		return nil
	})
	a := newAuthenticator(c, "", nil)
	a.now = func() time.Time { return now }
	for _, advance := range []time.Duration{0, 9 * time.Second, 2 * time.Second} {
		now = now.Add(advance)
		_, err := a.authenticate(context.Background(), request(jwt))
		require.NoError(t, err)
	}
	require.Equal(t, 2, *asked, "reviewed again once the token's exp passed, not after a minute")
}

// TestAuthenticateSharesConcurrentReviews: a burst of requests with one
// bad token costs one TokenReview.
func TestAuthenticateSharesConcurrentReviews(t *testing.T) {
	scheme, err := kargoscheme.New()
	require.NoError(t, err)
	const burst = 20
	var asked atomic.Int32
	c := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
			// Answer once every request of the burst asked, or after a
			// while: a server that shares reviews is asked once.
			asked.Add(1)
			deadline := time.Now().Add(300 * time.Millisecond)
			for asked.Load() < burst && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			return nil
		},
	}).Build()
	a := newAuthenticator(c, "", nil)
	var wg sync.WaitGroup
	for range burst {
		wg.Go(func() {
			_, err := a.authenticate(context.Background(), request("flood"))
			st, _ := statusOf(err)
			require.EqualValues(t, 401, st.Code)
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, asked.Load())
}

func TestAuthenticateWithoutLocalAdmin(t *testing.T) {
	c, _ := reviewer(t, func(client.Object) error { return nil })
	a := newAuthenticator(c, "", nil)
	_, err := a.authenticate(context.Background(), request("anything"))
	st, _ := statusOf(err)
	require.EqualValues(t, 401, st.Code)
}

func TestAuthenticateReviewFailure(t *testing.T) {
	c, _ := reviewer(t, func(client.Object) error { return errors.New("connection refused") })
	a := newAuthenticator(c, "", nil)
	_, err := a.authenticate(context.Background(), request("good"))
	st, known := statusOf(err)
	require.False(t, known)
	require.EqualValues(t, 500, st.Code)
	require.NotContains(t, err.Error(), "good", "the error names no token")
}

func TestAuthorizeRemembersBriefly(t *testing.T) {
	var last *authorizationv1.SubjectAccessReview
	c, asked := reviewer(t, func(obj client.Object) error {
		sar := obj.(*authorizationv1.SubjectAccessReview)
		last = sar
		sar.Status.Allowed = sar.Spec.ResourceAttributes.Name != "prod"
		return nil
	})
	a := newAuthorizer(c)
	now := epoch
	a.now = func() time.Time { return now }
	ctx := context.Background()
	bob := authenticationv1.UserInfo{Username: "bob", UID: "uid-bob", Groups: []string{"system:authenticated"}, Extra: map[string]authenticationv1.ExtraValue{"scopes": {"x"}}}

	require.NoError(t, a.check(ctx, bob, kargoAccess("get", "stages", "p", "uat")))
	require.Equal(t, 1, *asked)
	require.Equal(t, "uid-bob", last.Spec.UID)
	require.Equal(t, authorizationv1.ExtraValue{"x"}, last.Spec.Extra["scopes"])
	require.NoError(t, a.check(ctx, bob, kargoAccess("get", "stages", "p", "uat")))
	require.Equal(t, 1, *asked, "the same question within 5s is not asked again")

	err := a.check(ctx, bob, kargoAccess("get", "stages", "p", "prod"))
	require.Equal(t, 2, *asked, "another name is another question")
	st, _ := statusOf(err)
	require.EqualValues(t, 403, st.Code)
	require.Equal(t, `user "bob" may not get stages.kargo.akuity.io "prod" in project "p"; a project administrator can grant it with a RoleBinding in the project to one of the kargo-viewer, kargo-promoter or kargo-admin ClusterRoles`, st.Message)
	require.Error(t, a.check(ctx, bob, kargoAccess("get", "stages", "p", "prod")))
	require.Equal(t, 2, *asked, "refusals are remembered too")

	other := bob
	other.Groups = []string{"system:authenticated", "admins"}
	require.NoError(t, a.check(ctx, other, kargoAccess("get", "stages", "p", "uat")))
	require.Equal(t, 3, *asked, "other groups are another question")

	now = now.Add(accessTTL)
	require.NoError(t, a.check(ctx, bob, kargoAccess("get", "stages", "p", "uat")))
	require.Equal(t, 4, *asked, "answers expire after 5s")
}

func TestAuthorizePromote(t *testing.T) {
	c, asked := reviewer(t, func(obj client.Object) error {
		sar := obj.(*authorizationv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		sar.Status.Allowed = ra.Verb == authz.PromoteVerb && ra.Resource == "stages" && ra.Name == "uat"
		return nil
	})
	a := newAuthorizer(c)
	bob := authenticationv1.UserInfo{Username: "bob"}
	require.NoError(t, a.checkPromote(context.Background(), bob, "kargo-demo", "uat"))
	err := a.checkPromote(context.Background(), bob, "kargo-demo", "prod")
	var denied *authz.Denied
	require.ErrorAs(t, err, &denied)
	st, _ := statusOf(err)
	require.EqualValues(t, 403, st.Code)
	require.Contains(t, st.Message, `user "bob" may not promote to Stage "prod" in project "kargo-demo"`)
	require.Error(t, a.checkPromote(context.Background(), bob, "kargo-demo", "prod"))
	require.Equal(t, 2, *asked)
}

func TestForbiddenMessages(t *testing.T) {
	for _, c := range []struct {
		name string
		acc  access
		want string
	}{
		{"namespaced list", kargoAccess("list", "freights", "p", ""), `user "u" may not list freights.kargo.akuity.io in project "p"; a project administrator can grant it with a RoleBinding in the project to one of the kargo-viewer`},
		{"create promotions", kargoAccess("create", "promotions", "p", ""), `user "u" may not create promotions.kargo.akuity.io in project "p"; a project administrator can grant it with a RoleBinding in the project to the kargo-promoter or kargo-admin ClusterRole`},
		{"update freights", kargoAccess("update", "freights", "p", "f"), `user "u" may not update freights.kargo.akuity.io "f" in project "p"; a project administrator can grant it with a RoleBinding in the project to the kargo-admin ClusterRole`},
		{"cluster-scoped", kargoAccess("list", "projects", "", ""), `user "u" may not list projects.kargo.akuity.io; a cluster administrator`},
		{"core kind", access{verb: "create", resource: "configmaps", namespace: "p", name: "x"}, `user "u" may not create configmaps "x" in namespace "p"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Contains(t, forbidden("u", c.acc, "").Error(), c.want)
		})
	}
}
