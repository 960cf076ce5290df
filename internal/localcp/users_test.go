package localcp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func TestValidateUsers(t *testing.T) {
	tests := []struct {
		name    string
		users   []string
		wantErr string
	}{
		{name: "none", users: nil},
		{name: "demo users", users: []string{"alice", "bob", "ci-bot-2"}},
		{name: "upper case", users: []string{"alice", "Bob"}, wantErr: `user name "Bob" is not valid`},
		{name: "empty", users: []string{""}, wantErr: `user name "" is not valid`},
		{name: "leading dash", users: []string{"-x"}, wantErr: `user name "-x" is not valid`},
		{name: "dot", users: []string{"a.b"}, wantErr: `user name "a.b" is not valid`},
		{name: "system name", users: []string{"system:admin"}, wantErr: `user name "system:admin" is not valid`},
		{name: "too long", users: []string{strings.Repeat("a", 64)}, wantErr: "is not valid: use at most 63"},
		{name: "the admin", users: []string{"kargo-admin"}, wantErr: `user name "kargo-admin" is reserved for the administrator`},
		{name: "twice", users: []string{"alice", "bob", "alice"}, wantErr: `user "alice" is listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateUsers(tt.users)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestLoadOrCreateTokens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "users")

	first, err := loadOrCreateTokens(dir, []string{"alice", "bob"})
	require.NoError(t, err)
	require.Len(t, first, 2)
	assert.Regexp(t, `^[0-9a-f]{64}$`, first["alice"])
	assert.NotEqual(t, first["alice"], first["bob"])
	fi, err := os.Stat(filepath.Join(dir, "alice.token"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	second, err := loadOrCreateTokens(dir, []string{"alice", "carol"})
	require.NoError(t, err)
	assert.Equal(t, first["alice"], second["alice"], "a token is reused")
	assert.NotContains(t, second, "bob")
	assert.Regexp(t, `^[0-9a-f]{64}$`, second["carol"])

	require.NoError(t, os.WriteFile(filepath.Join(dir, "alice.token"), []byte("not a token"), 0o600))
	_, err = loadOrCreateTokens(dir, []string{"alice"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "token of user alice in "+filepath.Join(dir, "alice.token")+" is not 64 hex digits: delete the file to issue a new token")
}

func TestTokenAuthFile(t *testing.T) {
	data, err := tokenAuthFile([]string{"bob", "alice"}, map[string]string{"alice": "aaa", "bob": "bbb"})
	require.NoError(t, err)
	// No groups column: an empty one would be read as the group "".
	assert.Equal(t, "bbb,bob,bob\naaa,alice,alice\n", string(data))

	data, err = tokenAuthFile(nil, nil)
	require.NoError(t, err)
	assert.Empty(t, data)
}

// whoami returns the user a client is authenticated as.
func whoami(t *testing.T, cfg *rest.Config) (authenticationv1.UserInfo, error) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return review.Status.UserInfo, nil
}

func kubeconfigREST(t *testing.T, path string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	require.NoError(t, err)
	return cfg
}

// reviewToken asks the control plane, as the admin, who token belongs to,
// as kargo's API server does.
func reviewToken(t *testing.T, admin kubernetes.Interface, token string) authenticationv1.TokenReviewStatus {
	t.Helper()
	tr, err := admin.AuthenticationV1().TokenReviews().Create(t.Context(), &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return tr.Status
}

func TestUserTokens(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	port := freePort(t)

	cp := startWith(t, Options{DataDir: dir, APIServerPort: port, Users: []string{"alice", "bob"}})
	admin := clientset(t, cp)

	aliceToken, err := cp.UserToken("alice")
	require.NoError(t, err)
	bobToken, err := cp.UserToken("bob")
	require.NoError(t, err)
	assert.NotEqual(t, aliceToken, bobToken)
	_, err = cp.UserToken("carol")
	assert.ErrorContains(t, err, `no token for user "carol"`)

	alicePath := cp.UserKubeconfigPath("alice")
	require.Equal(t, filepath.Join(dir, "kubeconfig-alice"), alicePath)
	for _, f := range []string{alicePath, cp.UserKubeconfigPath("bob"), filepath.Join(dir, "users", "alice.token"), filepath.Join(dir, "users", "tokens.csv")} {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
	kc, err := clientcmd.LoadFromFile(alicePath)
	require.NoError(t, err)
	assert.Equal(t, "alice@kargo-local", kc.CurrentContext)
	assert.Equal(t, aliceToken, kc.AuthInfos["alice"].Token)
	assert.Empty(t, kc.AuthInfos["alice"].ClientCertificateData, "alice has no certificate")

	t.Run("each user's kubeconfig authenticates that user, in no group of their own", func(t *testing.T) {
		user, err := whoami(t, kubeconfigREST(t, alicePath))
		require.NoError(t, err)
		assert.Equal(t, "alice", user.Username)
		assert.Equal(t, []string{"system:authenticated"}, user.Groups)

		user, err = whoami(t, kubeconfigREST(t, cp.UserKubeconfigPath("bob")))
		require.NoError(t, err)
		assert.Equal(t, "bob", user.Username)

		user, err = whoami(t, cp.RESTConfig())
		require.NoError(t, err)
		assert.Equal(t, "kargo-admin", user.Username, "the admin is unchanged")
		assert.Contains(t, user.Groups, "system:masters")
	})

	t.Run("a TokenReview accepts a user's token and refuses another", func(t *testing.T) {
		status := reviewToken(t, admin, aliceToken)
		assert.True(t, status.Authenticated, status.Error)
		assert.Equal(t, "alice", status.User.Username)

		bad := strings.Repeat("0", 64)
		status = reviewToken(t, admin, bad)
		assert.False(t, status.Authenticated)

		cfg := rest.AnonymousClientConfig(cp.RESTConfig())
		cfg.BearerToken = bad
		_, err := whoami(t, cfg)
		assert.True(t, apierrors.IsUnauthorized(err), "want Unauthorized, got %v", err)
	})

	t.Run("RBAC applies to a user", func(t *testing.T) {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   "alice",
			Groups: []string{"system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: "default", Verb: "list", Resource: "configmaps",
			},
		}}
		got, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		require.NoError(t, err)
		assert.False(t, got.Status.Allowed, "alice may list config maps without a binding")

		alice, err := kubernetes.NewForConfig(kubeconfigREST(t, alicePath))
		require.NoError(t, err)
		_, err = alice.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsForbidden(err), "want Forbidden, got %v", err)

		_, err = admin.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "config-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = admin.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "alice-reads-config"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "config-reader"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "alice"}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		poll(t, "alice lists config maps once bound", func() (bool, error) {
			_, err := alice.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
			return err == nil, err
		})
	})

	// A copy, as a user would keep one elsewhere.
	aliceCopy := filepath.Join(t.TempDir(), "alice.kubeconfig")
	data, err := os.ReadFile(alicePath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(aliceCopy, data, 0o600))
	require.NoError(t, cp.Stop())

	t.Run("a restart keeps the tokens and drops a user no longer listed", func(t *testing.T) {
		cp := startWith(t, Options{DataDir: dir, APIServerPort: port, Users: []string{"alice"}})
		admin := clientset(t, cp)

		token, err := cp.UserToken("alice")
		require.NoError(t, err)
		assert.Equal(t, aliceToken, token)
		user, err := whoami(t, kubeconfigREST(t, aliceCopy))
		require.NoError(t, err, "the first run's kubeconfig against the second run")
		assert.Equal(t, "alice", user.Username)

		assert.False(t, reviewToken(t, admin, bobToken).Authenticated, "bob's token after bob was dropped")
		_, err = cp.UserToken("bob")
		assert.Error(t, err)
		assert.NoFileExists(t, cp.UserKubeconfigPath("bob"))
	})

	t.Run("a user listed again has the same token", func(t *testing.T) {
		cp := startWith(t, Options{DataDir: dir, APIServerPort: port, Users: []string{"alice", "bob"}})
		token, err := cp.UserToken("bob")
		require.NoError(t, err)
		assert.Equal(t, bobToken, token)
		user, err := whoami(t, kubeconfigREST(t, cp.UserKubeconfigPath("bob")))
		require.NoError(t, err)
		assert.Equal(t, "bob", user.Username)
	})
}
