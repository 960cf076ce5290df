package githubapp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/githubapp"
	"github.com/kargohq/kargo/internal/testutil/githubapi"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

func rsaKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// The real GitHub cannot be reached from the tests: githubapi answers the
// token exchange as GitHub documents it.
func TestExchange(t *testing.T) {
	key, keyPEM := rsaKey(t)
	now := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	api := githubapi.New(t, "123", &key.PublicKey, map[string]string{"456": "ghs_first"})
	api.Now = clock
	policy := egress.New(egress.Options{Allow: egress.MustParseRules(api.Listener.Addr().String())})
	x := &githubapp.Exchanger{Client: &http.Client{Transport: policy.Transport(api.Client().Transport.(*http.Transport))}, Now: clock}
	app := credentials.GitHubApp{AppID: "123", InstallationID: "456", PrivateKey: keyPEM, BaseURL: api.URL}

	tok, err := x.Token(t.Context(), app)
	require.NoError(t, err)
	require.Equal(t, "ghs_first", tok)
	_, err = x.Token(t.Context(), app)
	require.NoError(t, err)
	require.Equal(t, 1, api.Requests(), "a token is reused while it is valid")
	now = now.Add(56 * time.Minute)
	api.Installations["456"] = "ghs_second"
	tok, err = x.Token(t.Context(), app)
	require.NoError(t, err)
	require.Equal(t, "ghs_second", tok, "a token about to expire is renewed")

	_, otherPEM := rsaKey(t)
	for name, tc := range map[string]struct {
		app  credentials.GitHubApp
		want string
		sent bool
	}{
		"another key":          {credentials.GitHubApp{AppID: "123", InstallationID: "456", PrivateKey: otherPEM, BaseURL: api.URL}, "GitHub refused the App's token", true},
		"another App":          {credentials.GitHubApp{AppID: "999", InstallationID: "456", PrivateKey: keyPEM, BaseURL: api.URL}, "GitHub refused the App's token", true},
		"unknown installation": {credentials.GitHubApp{AppID: "123", InstallationID: "789", PrivateKey: keyPEM, BaseURL: api.URL}, "no such installation", true},
		"installation path":    {credentials.GitHubApp{AppID: "123", InstallationID: "456/../../x", PrivateKey: keyPEM, BaseURL: api.URL}, "is not a number", false},
		"not a key":            {credentials.GitHubApp{AppID: "123", InstallationID: "456", PrivateKey: []byte("x"), BaseURL: api.URL}, "not a PEM-encoded key", false},
		"plain http":           {credentials.GitHubApp{AppID: "123", InstallationID: "456", PrivateKey: keyPEM, BaseURL: "http://github.example.com/api/v3"}, "must be an https:// URL", false},
	} {
		t.Run(name, func(t *testing.T) {
			before := api.Requests()
			_, err := x.Token(t.Context(), tc.app)
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, tc.sent, api.Requests() > before)
		})
	}

	t.Run("the API's address obeys the outbound policy", func(t *testing.T) {
		strict := &githubapp.Exchanger{Client: &http.Client{Transport: egress.New(egress.Options{}).Transport(api.Client().Transport.(*http.Transport))}, Now: clock}
		before := api.Requests()
		_, err := strict.Token(t.Context(), app)
		require.ErrorIs(t, err, egress.ErrRefused)
		require.Equal(t, before, api.Requests())
	})
}

// A Warehouse's Git subscription reads a repository with an installation
// token obtained from a credential Secret with GitHub App fields.
func TestGitWithAppCredentials(t *testing.T) {
	key, keyPEM := rsaKey(t)
	api := githubapi.New(t, "123", &key.PublicKey, map[string]string{"456": "ghs_installation"})
	gs := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", "ghs_installation"))
	gs.CreateRepo("app")
	head := gs.Commit(t, "app", "main", map[string]string{"a": "1"}, "first")
	policy := egress.New(egress.Options{Allow: egress.MustParseRules(api.Listener.Addr().String(), gs.Host())})

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "p", Labels: map[string]string{kargoapi.CredentialTypeLabelKey: "git"}},
		Data: map[string][]byte{
			credentials.RepoURLKey:                 []byte(gs.RepoURL("app")),
			credentials.GitHubAppIDKey:             []byte("123"),
			credentials.GitHubAppInstallationIDKey: []byte("456"),
			credentials.GitHubAppPrivateKeyKey:     keyPEM,
			credentials.GitHubAppBaseURLKey:        []byte(api.URL),
		},
	}
	store := credentials.KubernetesStore{
		Client:     fake.NewClientBuilder().WithObjects(secret).Build(),
		GitHubApps: &githubapp.Exchanger{Client: &http.Client{Transport: policy.Transport(api.Client().Transport.(*http.Transport))}},
	}
	creds, err := store.Get(context.Background(), "p", credentials.TypeGit, gs.RepoURL("app"))
	require.NoError(t, err)
	require.Equal(t, "x-access-token", creds.Username)
	require.NotContains(t, creds.String(), "ghs_")

	cache := git.NewCache(t.TempDir(), git.Options{Egress: policy})
	commits, err := cache.Discover(t.Context(), kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(gs.RepoURL("app"))}, creds, 1, time.Hour)
	require.NoError(t, err)
	require.Equal(t, head, commits[0].ID)

	// Without the App, the host refuses.
	_, err = git.NewCache(t.TempDir(), git.Options{Egress: policy}).Discover(t.Context(), kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(gs.RepoURL("app"))}, nil, 1, time.Hour)
	require.Error(t, err)
}
