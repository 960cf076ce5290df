package security

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/forge"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

// forgeRecorder is a web server on loopback that answers Gitea's version
// probe, so that a client takes it for a Gitea, and 404 to everything else,
// and records the Authorization header of every request: the host of an
// attacker, or the host a Secret names.
type forgeRecorder struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
	// redirect, when set, answers every request with a 307 to it.
	redirect string
}

func forgeRecord(t *testing.T) *forgeRecorder {
	t.Helper()
	r := &forgeRecorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.auths = append(r.auths, req.Header.Get("Authorization"))
		redirect := r.redirect
		r.mu.Unlock()
		switch {
		case redirect != "":
			http.Redirect(w, req, redirect+req.URL.Path, http.StatusTemporaryRedirect)
		case req.URL.Path == "/api/v1/version":
			_ = json.NewEncoder(w).Encode(map[string]string{"version": "1.27.3"})
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// requests returns how many requests arrived, and how many of them carried
// credentials.
func (r *forgeRecorder) requests() (all, authorized int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.auths {
		if a != "" {
			authorized++
		}
	}
	return len(r.auths), authorized
}

func (r *forgeRecorder) host() string { return strings.TrimPrefix(r.URL, "http://") }

// forgeSecret is a git credential Secret of ns for repoURL (a pattern when
// pattern is set), written by the project's administrator.
func forgeSecret(t *testing.T, ns, name, repoURL string, pattern bool) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{kargoapi.CredentialTypeLabelKey: "git"}},
		Data:       map[string][]byte{credentials.UsernameKey: []byte("kargo"), credentials.PasswordKey: []byte("forge-token-" + name)},
	}
	if pattern {
		s.Labels[kargoapi.CredentialURLPatternLabelKey] = "true"
		s.Data[credentials.RepoURLPatternKey] = []byte(repoURL)
	} else {
		s.Data[credentials.RepoURLKey] = []byte(repoURL)
	}
	require.NoError(t, env.Admin.Create(context.Background(), s))
}

// forgeForges is the pull-request client as the controller would hold it:
// Secrets read with the controller's own rights, connections through an
// outbound policy of a cluster install that allows only addrs.
func forgeForges(t *testing.T, addrs ...string) *forge.Forges {
	t.Helper()
	policy := egress.New(egress.Options{})
	if len(addrs) > 0 {
		policy.Allow(egress.MustParseRules(addrs...)...)
	}
	t.Cleanup(func() { _ = policy.Close() })
	reader := env.As(t, controllers.ServiceAccount, "system:serviceaccounts", "system:serviceaccounts:"+install.Namespace, "system:authenticated")
	return &forge.Forges{Credentials: credentials.KubernetesStore{Client: reader}, Egress: policy}
}

// A promotion's pull-request steps take a repository URL from the Stage,
// which whoever may edit Stages writes. They try to point the controller's
// forge client at what the outbound policy refuses, and to make it carry a
// Secret's token to a host the Secret does not name.
func TestForgePullRequests(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "forge")
	open := forge.OpenOptions{Head: "kargo/test", Base: "main", Title: "promote"}

	t.Run("a repository on a refused address is refused before any connection", func(t *testing.T) {
		target := egressListen(t)
		url := "http://" + target.addr + "/org/gitops.git"
		forgeSecret(t, ns, "loopback", url, false)
		forges := forgeForges(t)
		_, err := forges.Client(ctx, forge.Repository{Namespace: ns, URL: url})
		require.ErrorIs(t, err, egress.ErrRefused, "the provider probe")
		require.ErrorContains(t, err, "refused to connect to "+target.addr+": it is a loopback address")
		for _, p := range []forge.Provider{forge.Gitea, forge.GitHub} {
			c, err := forges.Client(ctx, forge.Repository{Namespace: ns, URL: url, Provider: p})
			require.NoError(t, err)
			_, _, err = c.OpenPullRequest(ctx, open)
			require.ErrorIs(t, err, egress.ErrRefused, p)
			_, err = c.MergePullRequest(ctx, 1, forge.MergeOptions{})
			require.ErrorIs(t, err, egress.ErrRefused, p)
		}
		target.requireUntouched(t)

		for url, reason := range map[string]string{
			"http://169.254.169.254/org/gitops.git": "a cloud metadata address",
			"http://10.0.0.1/org/gitops.git":        "a private address",
			"http://localhost:1/org/gitops.git":     "a loopback address",
		} {
			c, err := forges.Client(ctx, forge.Repository{Namespace: ns, URL: url, Provider: forge.Gitea})
			require.NoError(t, err)
			_, err = c.GetPullRequest(ctx, 1)
			require.ErrorIs(t, err, egress.ErrRefused, url)
			require.ErrorContains(t, err, reason)
		}
	})

	t.Run("a Secret's token is not sent to another host", func(t *testing.T) {
		owner, attacker := forgeRecord(t), forgeRecord(t)
		forges := forgeForges(t, owner.host(), attacker.host())
		forgeSecret(t, ns, "owner", owner.URL+"/org/gitops.git", false)
		forgeSecret(t, ns, "owner-pattern", `http://127\.0\.0\.1:`+strings.Split(owner.host(), ":")[1]+`/org/.*`, true)

		// The same path on the attacker's host, and the attacker's host
		// behind userinfo that spells the owner's.
		for _, url := range []string{
			attacker.URL + "/org/gitops.git",
			"http://" + owner.host() + "@" + attacker.host() + "/org/gitops.git",
			"http://" + strings.Replace(owner.host(), ":", "%3A", 1) + ":x@" + attacker.host() + "/org/gitops.git",
		} {
			c, err := forges.Client(ctx, forge.Repository{Namespace: ns, URL: url})
			require.NoError(t, err, url)
			_, _, err = c.OpenPullRequest(ctx, open)
			require.ErrorContains(t, err, "anonymous requests (no git credential Secret of project "+ns+" matches "+attacker.URL+"/org/gitops)")
		}
		all, authorized := attacker.requests()
		require.NotZero(t, all, "the attacker's host was never asked: the test proves nothing")
		require.Zero(t, authorized, "the attacker's host received credentials")

		// The owner's host gets them: the Secrets do match where they should.
		c, err := forges.Client(ctx, forge.Repository{Namespace: ns, URL: owner.URL + "/org/gitops.git"})
		require.NoError(t, err)
		_, _, err = c.OpenPullRequest(ctx, open)
		require.Error(t, err)
		_, authorized = owner.requests()
		require.NotZero(t, authorized)
	})

	t.Run("a redirect does not carry the token to another host, nor to a refused address", func(t *testing.T) {
		owner, attacker := forgeRecord(t), forgeRecord(t)
		target := egressListen(t)
		forges := forgeForges(t, owner.host(), attacker.host())
		forgeSecret(t, ns, "redirecting", owner.URL+"/org/app.git", false)
		for _, to := range []string{attacker.URL, "http://" + target.addr} {
			owner.mu.Lock()
			owner.redirect = to
			owner.mu.Unlock()
			c, err := forges.Client(ctx, forge.Repository{Namespace: ns, URL: owner.URL + "/org/app.git", Provider: forge.Gitea})
			require.NoError(t, err)
			_, _, err = c.OpenPullRequest(ctx, open)
			require.ErrorContains(t, err, "redirected to "+to+": kargo follows a forge's redirects only on its own host")
		}
		all, _ := attacker.requests()
		require.Zero(t, all, "the redirect was followed to the attacker's host")
		target.requireUntouched(t)
		_, authorized := owner.requests()
		require.NotZero(t, authorized, "the owner's host was never asked with credentials: the test proves nothing")
	})

	t.Run("another project's Secret for the repository is not used", func(t *testing.T) {
		other := env.NewProject(t, "forge-other")
		srv := forgeRecord(t)
		forges := forgeForges(t, srv.host())
		forgeSecret(t, other, "theirs", srv.URL+"/org/gitops.git", false)
		c, err := forges.Client(ctx, forge.Repository{Namespace: ns, URL: srv.URL + "/org/gitops.git"})
		require.NoError(t, err)
		_, _, err = c.OpenPullRequest(ctx, open)
		require.ErrorContains(t, err, "anonymous requests")
		all, authorized := srv.requests()
		require.NotZero(t, all)
		require.Zero(t, authorized, "another project's token was sent")
	})

	t.Run("a token is not sent over plain http:// beyond this machine", func(t *testing.T) {
		url := "http://forge.example.com/org/gitops.git"
		forgeSecret(t, ns, "plain-http", url, false)
		forges := forgeForges(t)
		_, err := forges.Client(ctx, forge.Repository{Namespace: ns, URL: url, Provider: forge.Gitea})
		require.ErrorContains(t, err, "credentials are never sent over plain http://")
	})
}
