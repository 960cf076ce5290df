package security

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/sshserver"
	"github.com/kargohq/kargo/internal/webhookreceiver"
)

// credsSSHSecret is a git credential Secret for repoURL with sshd's client
// key and the given known_hosts, written by the cluster's administrator.
func credsSSHSecret(t *testing.T, ns, name, repoURL string, key, knownHosts []byte) {
	t.Helper()
	require.NoError(t, env.Admin.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{kargoapi.CredentialTypeLabelKey: "git"}},
		Data: map[string][]byte{
			credentials.RepoURLKey:       []byte(repoURL),
			credentials.SSHPrivateKeyKey: key,
			credentials.KnownHostsKey:    knownHosts,
		},
	}))
}

// credsConnections counts the connections sshd logged, less the one with
// which sshserver.Start saw it listen.
func credsConnections(s *sshserver.Server) int {
	return strings.Count(s.Log(), "Connection from") - 1
}

// Git over SSH is a way out of the controller that HTTP's proxy does not
// see: adam (kargo-admin, who may not read Secrets) tries to make the
// controller's ssh reach what the outbound policy refuses, trust a host the
// Secret does not list, carry a Secret's key to another host, or run a
// command through the URL.
func TestCredsSSH(t *testing.T) {
	ns := env.NewProject(t, "creds-ssh")
	env.BindAccessUsers(t, ns)
	adam := env.As(t, kubetest.Adam)
	gs := gitserver.New(t)
	gs.CreateRepo("app")
	gs.Commit(t, "app", "main", map[string]string{"a": "1"}, "first")

	t.Run("an ssh:// Warehouse on a loopback sshd is refused by the outbound policy", func(t *testing.T) {
		sshd := sshserver.Start(t)
		url := sshd.URL("127.0.0.1", sshd.Serve(t, gs.Dir("app")))
		credsSSHSecret(t, ns, "loopback", url, sshd.ClientKey, sshd.KnownHosts("127.0.0.1"))
		cond := egressDiscover(t, adam, ns, "ssh-loopback", kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(url)}}})
		require.Equal(t, "AddressRefused", cond.Reason, cond.Message)
		require.Contains(t, cond.Message, "refused to connect to "+sshd.Addr()+": it is a loopback address")
		require.Zero(t, credsConnections(sshd), "sshd received a connection")
	})

	t.Run("a host whose key the Secret does not list is refused before the key is offered", func(t *testing.T) {
		sshd := sshserver.Start(t)
		controllers.AllowOutbound(t, sshd.Addr())
		url := sshd.URL("127.0.0.1", sshd.Serve(t, gs.Dir("app")))
		wrong := []byte("[127.0.0.1]:" + strings.TrimPrefix(sshd.Addr(), "127.0.0.1:") + " " + sshd.OtherHostKey + "\n")
		credsSSHSecret(t, ns, "impostor", url, sshd.ClientKey, wrong)
		cond := egressDiscover(t, adam, ns, "ssh-impostor", kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(url)}}})
		require.Contains(t, cond.Message, "not in the knownHosts of the git credential Secret")
		require.NotContains(t, sshd.Log(), "publickey", "the client authenticated to a host it could not verify")
	})

	t.Run("a Warehouse on another host does not get a Secret's key", func(t *testing.T) {
		owner, attacker := sshserver.Start(t), sshserver.Start(t)
		controllers.AllowOutbound(t, owner.Addr(), attacker.Addr())
		path := owner.Serve(t, gs.Dir("app"))
		credsSSHSecret(t, ns, "owner", owner.URL("127.0.0.1", path), owner.ClientKey, owner.KnownHosts("127.0.0.1"))
		cond := egressDiscover(t, adam, ns, "ssh-elsewhere", kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(attacker.URL("127.0.0.1", path))}}})
		require.Contains(t, cond.Message, "needs a git credential Secret")
		require.Zero(t, credsConnections(attacker), "the attacker's sshd received a connection")
	})

	t.Run("an ssh option in the URL's user name runs nothing", func(t *testing.T) {
		sshd := sshserver.Start(t)
		controllers.AllowOutbound(t, sshd.Addr())
		marker := filepath.Join(t.TempDir(), "ran")
		path := sshd.Serve(t, gs.Dir("app"))
		port := strings.TrimPrefix(sshd.Addr(), "127.0.0.1:")
		for i, user := range []string{"-oProxyCommand=touch%20" + marker, "-oProxyCommand=id"} {
			url := "ssh://" + user + "@127.0.0.1:" + port + path
			credsSSHSecret(t, ns, "option-"+string(rune('a'+i)), url, sshd.ClientKey, sshd.KnownHosts("127.0.0.1"))
			cond := egressDiscover(t, adam, ns, "ssh-option-"+string(rune('a'+i)), kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(url)}}})
			require.Contains(t, cond.Message, "invalid spec")
		}
		_, err := os.Stat(marker)
		require.ErrorIs(t, err, os.ErrNotExist, "a command in the URL ran")
		require.Zero(t, credsConnections(sshd))
	})
}

// Every receiver is reachable by anyone; none may let a caller without
// the project's secret refresh a Warehouse, or tell it which projects
// exist.
func TestCredsWebhookReceivers(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "creds-hooks")
	other := env.NewProject(t, "creds-hooks-other")
	secret, otherSecret := []byte("receiver-secret-A"), []byte("receiver-secret-B")
	for p, s := range map[string][]byte{ns: secret, other: otherSecret} {
		require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: p, Name: webhookreceiver.SecretName},
			Data:       map[string][]byte{webhookreceiver.SecretKey: s},
		}))
	}
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "w"},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Git:    []kargoapi.GitSubscription{{RepoURL: "https://github.com/example/app.git"}},
			Images: []kargoapi.ImageSubscription{{RepoURL: "example/app"}},
		}},
	}))
	srv, _ := apiserverReceiver(t, &webhookreceiver.Receiver{})
	annotation := func() string {
		w := &kargoapi.Warehouse{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "w"}, w))
		return w.Annotations[kargoapi.RefreshAnnotationKey]
	}
	before := annotation()
	post := func(path string, header map[string]string, body string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	push := `{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/example/app.git","html_url":"https://github.com/example/app","git_http_url":"https://github.com/example/app.git","full_name":"example/app","links":{"html":{"href":"https://github.com/example/app"}},"repo_name":"example/app","docker_url":"docker.io/example/app","remoteUrl":"https://github.com/example/app"},"project":{"git_http_url":"https://github.com/example/app.git"},"updated_tags":["1"],"eventType":"git.push","type":"PUSH_ARTIFACT","event_data":{"resources":[{"resource_url":"docker.io/example/app:1"}]}}`
	basic := func(pw []byte) string {
		return "Basic " + base64.StdEncoding.EncodeToString(append([]byte("kargo:"), pw...))
	}

	for _, tc := range []struct {
		attack, provider string
		header           map[string]string
	}{
		{"an unsigned GitHub push", "github", map[string]string{"X-GitHub-Event": "push"}},
		{"a GitLab push with a guessed token", "gitlab", map[string]string{"X-Gitlab-Event": "Push Hook", webhookreceiver.GitLabTokenHeader: "guess"}},
		{"a GitLab push with an empty token", "gitlab", map[string]string{"X-Gitlab-Event": "Push Hook", webhookreceiver.GitLabTokenHeader: ""}},
		{"an unsigned Bitbucket push", "bitbucket", map[string]string{"X-Event-Key": "repo:push"}},
		{"a Gitea push signed with another project's secret", "gitea", map[string]string{"X-Gitea-Event": "push", webhookreceiver.GiteaSignatureHeader: credsHexSign(otherSecret, push)}},
		{"an Azure DevOps push with a wrong password", "azuredevops", map[string]string{"Authorization": basic([]byte("guess"))}},
		{"an Azure DevOps push with another project's password", "azuredevops", map[string]string{"Authorization": basic(otherSecret)}},
		{"a Harbor push without Authorization", "harbor", nil},
		{"an Artifactory push with a wrong secret", "artifactory", map[string]string{webhookreceiver.JFrogAuthHeader: "guess"}},
		{"a generic push with another project's bearer token", "generic", map[string]string{"Authorization": "Bearer " + string(otherSecret)}},
		{"a Docker Hub push with another project's URL token", "dockerhub/" + webhookreceiver.URLToken(otherSecret, "dockerhub"), nil},
		{"a Docker Hub push with Quay's URL token", "dockerhub/" + webhookreceiver.URLToken(secret, "quay"), nil},
		{"a Quay push with the secret itself in the URL", "quay/" + string(secret), nil},
		{"a Docker Hub push without a token", "dockerhub", nil},
	} {
		t.Run(tc.attack, func(t *testing.T) {
			code, body := post("/webhooks/"+ns+"/"+tc.provider, tc.header, push)
			require.Contains(t, []int{http.StatusUnauthorized, http.StatusNotFound}, code, body)
			require.NotContains(t, body, `"refreshed"`)
			require.NotContains(t, body, "warehouse/")
			// The same request to a project that does not exist gets the
			// same answer: the receiver does not tell which exist.
			code2, body2 := post("/webhooks/no-such-project/"+tc.provider, tc.header, push)
			require.Equal(t, code, code2)
			require.Equal(t, body, body2)
			require.Equal(t, before, annotation(), "the Warehouse was refreshed")
		})
	}

	t.Run("a signed push replayed refreshes once", func(t *testing.T) {
		sig := "sha256=" + credsHexSign(secret, push)
		code, body := post("/webhooks/"+ns+"/bitbucket", map[string]string{"X-Event-Key": "repo:push", webhookreceiver.BitbucketSignatureHeader: sig}, push)
		require.Equal(t, http.StatusOK, code, body)
		first := annotation()
		require.NotEqual(t, before, first)
		code, body = post("/webhooks/"+ns+"/bitbucket", map[string]string{"X-Event-Key": "repo:push", webhookreceiver.BitbucketSignatureHeader: sig}, push)
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `"replayed":true`)
		require.Equal(t, first, annotation())
	})
}

func credsHexSign(secret []byte, body string) string {
	return hex.EncodeToString(webhookreceiver.Sign(secret, []byte(body)))
}
