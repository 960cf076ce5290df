package forge_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/forge"
	"github.com/kargohq/kargo/internal/githubapp"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/githubapi"
)

// No GitHub can be reached from the tests, and testutil/githubapi answers
// only the App token exchange. So this checks what the GitHub client sends
// before any answer matters, to a GitHub Enterprise Server's address that
// only records requests and answers 401 as GitHub does to a bad token: the
// documented endpoint, headers and query, with the installation token of
// the project's GitHub App Secret as the bearer token. What the client does
// with GitHub's answers is checked against the documentation only
// (TestGitHubPullRequestStates).
func TestGitHubRequests(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	apps := githubapi.New(t, "123", &key.PublicKey, map[string]string{"456": "ghs_installation"})

	var mu sync.Mutex
	var got []*http.Request
	ghe := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(r.Context()))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`))
	}))
	t.Cleanup(ghe.Close)
	repoURL := ghe.URL + "/org/app.git"

	policy := egress.New(egress.Options{Allow: egress.MustParseRules(apps.Listener.Addr().String(), ghe.Listener.Addr().String())})
	tlsBase := ghe.Client().Transport.(*http.Transport)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "app", Labels: map[string]string{kargoapi.CredentialTypeLabelKey: "git"}},
		Data: map[string][]byte{
			credentials.RepoURLKey:                 []byte(repoURL),
			credentials.GitHubAppIDKey:             []byte("123"),
			credentials.GitHubAppInstallationIDKey: []byte("456"),
			credentials.GitHubAppPrivateKeyKey:     keyPEM,
			credentials.GitHubAppBaseURLKey:        []byte(apps.URL),
		},
	}
	forges := &forge.Forges{
		Credentials: credentials.KubernetesStore{
			Client:     fake.NewClientBuilder().WithObjects(secret).Build(),
			GitHubApps: &githubapp.Exchanger{Client: &http.Client{Transport: policy.Transport(apps.Client().Transport.(*http.Transport))}},
		},
		Egress:    policy,
		Transport: tlsBase,
	}
	c, err := forges.Client(t.Context(), forge.Repository{Namespace: project, URL: repoURL, Provider: forge.GitHub})
	require.NoError(t, err)
	require.Equal(t, forge.GitHub, c.Provider())

	_, _, err = c.OpenPullRequest(t.Context(), forge.OpenOptions{Head: "kargo/test", Base: "main", Title: "promote"})
	require.ErrorIs(t, err, sourceerr.ErrUnauthorized)
	require.ErrorContains(t, err, "GitHub answered 401 Unauthorized: Bad credentials; it refused the credentials (GitHub App 123 installation 456) of project kargo-demo's git credential Secret for "+ghe.URL+"/org/app")
	require.NotContains(t, err.Error(), "ghs_installation")
	_, err = c.MergePullRequest(t.Context(), 7, forge.MergeOptions{Method: forge.Squash})
	require.ErrorIs(t, err, sourceerr.ErrUnauthorized)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2)
	list, pull := got[0], got[1]
	// "List pull requests": the open ones from the head branch (as
	// OWNER:BRANCH) into the base.
	require.Equal(t, http.MethodGet, list.Method)
	require.Equal(t, "/api/v3/repos/org/app/pulls", list.URL.Path)
	require.Equal(t, "open", list.URL.Query().Get("state"))
	require.Equal(t, "org:kargo/test", list.URL.Query().Get("head"))
	require.Equal(t, "main", list.URL.Query().Get("base"))
	// "Get a pull request" comes before a merge.
	require.Equal(t, http.MethodGet, pull.Method)
	require.Equal(t, "/api/v3/repos/org/app/pulls/7", pull.URL.Path)
	for _, r := range got {
		require.Equal(t, "Bearer ghs_installation", r.Header.Get("Authorization"))
		require.Equal(t, "application/vnd.github+json", r.Header.Get("Accept"))
		require.Equal(t, "2022-11-28", r.Header.Get("X-GitHub-Api-Version"))
		require.True(t, strings.HasPrefix(r.Header.Get("User-Agent"), "kargo"))
	}
}
