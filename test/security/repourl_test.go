package security

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

// repourlSecret writes, as the cluster's administrator, a credential
// Secret of type t for repoURL (or, with pattern, for repoURLPattern) whose
// password is "pw-"+name.
func repourlSecret(t *testing.T, ns, name string, ct credentials.Type, repoURL string, pattern bool, extra map[string][]byte) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{kargoapi.CredentialTypeLabelKey: string(ct)}},
		Data:       map[string][]byte{credentials.UsernameKey: []byte("kargo"), credentials.PasswordKey: []byte("pw-" + name)},
	}
	if pattern {
		s.Labels[kargoapi.CredentialURLPatternLabelKey] = "true"
		s.Data[credentials.RepoURLPatternKey] = []byte(repoURL)
	} else {
		s.Data[credentials.RepoURLKey] = []byte(repoURL)
	}
	for k, v := range extra {
		s.Data[k] = v
	}
	require.NoError(t, env.Admin.Create(context.Background(), s))
}

// Whoever may write a Warehouse or Stage chooses the URL kargo fetches and
// so the host a credential goes to, without any right to read the Secret.
// Every spelling of another host, scheme or port must get nothing of the
// Secrets an administrator wrote for git.example (and kargo.example, for
// the Kelvin sign), while the spellings of those hosts themselves still get
// them (so the lookups below can fail).
func TestRepourlCredentialsGoOnlyToTheirHost(t *testing.T) {
	ns := env.NewProject(t, "repourl-creds")
	repourlSecret(t, ns, "exact", credentials.TypeGit, "https://git.example/org/app.git", false, nil)
	repourlSecret(t, ns, "kelvin", credentials.TypeGit, "https://kargo.example/org/app", false, nil)
	repourlSecret(t, ns, "pattern", credentials.TypeGit, `https://git\.example/team/.*`, true, nil)
	repourlSecret(t, ns, "ssh", credentials.TypeGit, "git@git.example:keys/app.git", false, map[string][]byte{credentials.SSHPrivateKeyKey: []byte("-----BEGIN OPENSSH PRIVATE KEY-----"), credentials.KnownHostsKey: []byte("git.example ssh-ed25519 AAAA")})
	repourlSecret(t, ns, "image", credentials.TypeImage, "git.example/org/app", false, nil)
	repourlSecret(t, ns, "chart", credentials.TypeHelm, "oci://git.example/charts/app", false, nil)
	store := credentials.KubernetesStore{Client: env.Admin}

	lookup := func(t *testing.T, ct credentials.Type, url string) string {
		t.Helper()
		c, err := store.Get(context.Background(), ns, ct, url)
		require.NoError(t, err, url)
		if c == nil {
			return ""
		}
		return c.Password
	}

	t.Run("the Secrets' own repositories get them, however spelled", func(t *testing.T) {
		for url, want := range map[string]string{
			"https://git.example/org/app":          "pw-exact",
			"HTTPS://GIT.example:443/Org/App.git/": "pw-exact",
			"https://git.example/team/other":       "pw-pattern",
			"ssh://git@git.example/keys/app":       "pw-ssh",
			"git@GIT.example:keys/app":             "pw-ssh",
			"https://KARGO.example/org/app":        "pw-kelvin",
		} {
			require.Equal(t, want, lookup(t, credentials.TypeGit, url), url)
		}
		require.Equal(t, "pw-image", lookup(t, credentials.TypeImage, "oci://git.example/org/app"))
		require.Equal(t, "pw-chart", lookup(t, credentials.TypeHelm, "git.example/charts/app"))
	})

	for _, attack := range []struct {
		name string
		ct   credentials.Type
		url  string
	}{
		{"git.example as the user name of another host", credentials.TypeGit, "https://git.example@evil.example/org/app"},
		{"git.example and its port as the userinfo of another host", credentials.TypeGit, "https://git.example:443@evil.example/org/app"},
		{"git.example as the userinfo, twice", credentials.TypeGit, "https://git.example@git.example@evil.example/team/app"},
		{"git.example in the path of another host", credentials.TypeGit, "https://evil.example/git.example/org/app"},
		{"git.example in the query of another host", credentials.TypeGit, "https://evil.example/?https://git.example/org/app"},
		{"git.example as a subdomain of another host", credentials.TypeGit, "https://git.example.evil.example/org/app"},
		{"git.example with a trailing dot", credentials.TypeGit, "https://git.example./org/app"},
		{"git.example with a trailing dot, for the pattern", credentials.TypeGit, "https://git.example./team/app"},
		{"the Kelvin sign for the k of kargo.example", credentials.TypeGit, "https://\u212Aargo.example/org/app"},
		{"a dotless i", credentials.TypeGit, "https://g\u0131t.example/org/app"},
		{"a dotted capital I", credentials.TypeGit, "https://G\u0130T.example/team/app"},
		{"a Cyrillic e", credentials.TypeGit, "https://git.\u0435xample/org/app"},
		{"a fullwidth dot", credentials.TypeGit, "https://git\uff0eexample/org/app"},
		{"a percent-encoded dot", credentials.TypeGit, "https://git%2Eexample/org/app"},
		{"punycode", credentials.TypeGit, "https://xn--git-example.example/org/app"},
		{"plain http to git.example", credentials.TypeGit, "http://git.example/org/app"},
		{"another port of git.example", credentials.TypeGit, "https://git.example:8443/org/app"},
		{"git:// to git.example", credentials.TypeGit, "git://git.example/org/app"},
		{"ssh to git.example for the https Secret", credentials.TypeGit, "ssh://git@git.example/org/app"},
		{"scp to git.example for the https Secret", credentials.TypeGit, "git@git.example:org/app.git"},
		{"scp with git.example as the user", credentials.TypeGit, "git.example@evil.example:keys/app.git"},
		{"scp with git.example in the path", credentials.TypeGit, "git@evil.example:git.example/keys/app"},
		{"ssh with git.example as userinfo", credentials.TypeGit, "ssh://git.example:22@evil.example/keys/app"},
		{"ssh on another port", credentials.TypeGit, "ssh://git@git.example:2222/keys/app"},
		{"https for the ssh Secret", credentials.TypeGit, "https://git.example/keys/app"},
		{"an image on another registry with git.example in its path", credentials.TypeImage, "evil.example/git.example/org/app"},
		{"an image on git.example. with a trailing dot", credentials.TypeImage, "git.example./org/app"},
		{"an image on another port of git.example", credentials.TypeImage, "git.example:5000/org/app"},
		{"an image on a look-alike with a Cyrillic e", credentials.TypeImage, "git.\u0435xample/org/app"},
		{"a chart over https for the oci:// Secret", credentials.TypeHelm, "https://git.example/charts/app"},
		{"a chart on another registry", credentials.TypeHelm, "oci://git.example.evil.example/charts/app"},
	} {
		t.Run(attack.name, func(t *testing.T) {
			require.Empty(t, lookup(t, attack.ct, attack.url), "%s got a Secret meant for git.example", attack.url)
		})
	}
}

// repourlListener is a Git server that asks for a password and records the
// Authorization header of every request, per path.
type repourlListener struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string][]string
}

func repourlListen(t *testing.T) *repourlListener {
	t.Helper()
	l := &repourlListener{seen: map[string][]string{}}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		l.mu.Lock()
		l.seen[repo] = append(l.seen[repo], r.Header.Get("Authorization"))
		l.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(l.Close)
	controllers.AllowOutbound(t, l.Listener.Addr().String())
	return l
}

// authorizations returns the Authorization headers of the requests for
// repo, once there was one.
func (l *repourlListener) authorizations(t *testing.T, repo string) []string {
	t.Helper()
	var got []string
	kubetest.Eventually(t, time.Minute, "a request for "+repo, func() (bool, string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		got = append([]string(nil), l.seen[repo]...)
		return len(got) > 0, "none yet"
	})
	return got
}

// The same rule end to end: adam (kargo-admin, who may not read Secrets)
// points Warehouses at a Git server of his that asks every client for a
// password. It gets the password of a Secret only for the Secret's own
// repository, not for another name of its host or another scheme that
// reaches the same server (a trailing dot, which does not resolve here, is
// covered by TestRepourlCredentialsGoOnlyToTheirHost), and a URL that puts the Secret's host in its userinfo is refused
// before anything is stored.
func TestRepourlWarehouseSpellingsGetNoPassword(t *testing.T) {
	ns := env.NewProject(t, "repourl-wh")
	env.BindAccessUsers(t, ns)
	adam := env.As(t, kubetest.Adam)
	l := repourlListen(t)
	_, port, err := net.SplitHostPort(l.Listener.Addr().String())
	require.NoError(t, err)

	discover := func(t *testing.T, name, url string) metav1.Condition {
		t.Helper()
		wh := &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(url)}}}},
		}
		require.NoError(t, adam.Create(context.Background(), wh))
		var ready metav1.Condition
		kubetest.Eventually(t, time.Minute, "Warehouse "+name+" fails discovery", func() (bool, string) {
			got := &kargoapi.Warehouse{}
			require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(wh), got))
			cond := meta.FindStatusCondition(got.Status.Conditions, kargoapi.ConditionReady)
			if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason == "" {
				return false, "no failure yet"
			}
			ready = *cond
			return true, ""
		})
		return ready
	}
	basic := func(name string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("kargo:pw-"+name))
	}

	t.Run("control: the Secret's own repository, spelled otherwise, gets the password", func(t *testing.T) {
		repourlSecret(t, ns, "control", credentials.TypeGit, "http://127.0.0.1:"+port+"/control/app.git/", false, nil)
		discover(t, "control", "http://127.0.0.1:"+port+"/Control/app")
		require.Contains(t, l.authorizations(t, "Control"), basic("control"))
	})

	t.Run("another name of the same server gets no password", func(t *testing.T) {
		repourlSecret(t, ns, "byname", credentials.TypeGit, "http://localhost:"+port+"/byname/app", false, nil)
		discover(t, "byname", "http://127.0.0.1:"+port+"/byname/app")
		for _, a := range l.authorizations(t, "byname") {
			require.Empty(t, a, "the server got a password meant for localhost")
		}
	})

	t.Run("plain http to the host of an https Secret gets no password", func(t *testing.T) {
		repourlSecret(t, ns, "scheme", credentials.TypeGit, "https://127.0.0.1:"+port+"/scheme/app", false, nil)
		discover(t, "scheme", "http://127.0.0.1:"+port+"/scheme/app")
		for _, a := range l.authorizations(t, "scheme") {
			require.Empty(t, a, "the server got over http a password meant for https")
		}
	})

	t.Run("the Secret's host as the userinfo of another is refused", func(t *testing.T) {
		repourlSecret(t, ns, "userinfo", credentials.TypeGit, "http://localhost:"+port+"/userinfo/app", false, nil)
		for i, url := range []string{
			"http://localhost:" + port + "@127.0.0.1:" + port + "/userinfo/app",
			"http://localhost@127.0.0.1:" + port + "/userinfo/app",
		} {
			name := "userinfo-" + string(rune('a'+i))
			err := adam.Create(context.Background(), &kargoapi.Warehouse{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec:       kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(url)}}}},
			})
			require.True(t, apierrors.IsInvalid(err), "%s: %v", url, err)
			require.ErrorContains(t, err, "must not hold credentials")
			require.True(t, apierrors.IsNotFound(env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &kargoapi.Warehouse{})), "the Warehouse was stored")
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		require.Empty(t, l.seen["userinfo"], "the server was asked for the repository")
	})
}
