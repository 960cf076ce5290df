package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/cli"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// TestCreateCredentials: kargo create credentials writes a credential
// Secret with the caller's own rights, and prints nothing secret.
func TestCreateCredentials(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "creds")
	env.Bind(t, ns, "adam", "ClusterRole", "kargo-admin")
	env.Bind(t, ns, "carol", "ClusterRole", "kargo-admin")
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "credentials-writer", Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}}},
	}))
	env.Bind(t, ns, "adam", "Role", "credentials-writer")
	kubetest.Eventually(t, 10*time.Second, "adam may create Secrets", func() (bool, string) {
		err := env.As(t, "adam").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns}}, client.DryRunAll)
		return err == nil, fmt.Sprint(err)
	})
	s := newSession(t)
	s.masks = append(s.masks, [2]string{ns, "creds-project"})
	const token = "ghp_not-a-real-token-1234"
	require.NoError(t, os.WriteFile("token.txt", []byte(token+"\n"), 0o600))
	require.NoError(t, os.WriteFile("deploy_key", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600))
	require.NoError(t, os.WriteFile("known_hosts", []byte("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o600))

	s.note("carol administers the project (kargo-admin), which does not include Secrets: a Secret's creator",
		"could also mint tokens of the namespace's ServiceAccounts, so a cluster administrator grants it apart.")
	s.login("carol")
	r := s.run("kargo create credentials gitops --project " + ns + " --repo-url https://github.com/example/gitops.git --username kargo --password-file token.txt")
	require.Equal(t, cli.ExitError, r.code)

	s.note("adam is kargo-admin too, and holds a Role that may create Secrets in the project:")
	s.login("adam")
	r = s.run("kargo create credentials gitops --project " + ns + " --repo-url https://github.com/example/gitops.git --username kargo --password-file token.txt")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = s.run("kargo create credentials gitops-ssh --project " + ns + " \\\n  --repo-url git@github.com:example/gitops.git \\\n  --ssh-private-key-file deploy_key --known-hosts-file known_hosts")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = s.run("kargo create credentials ghcr --project " + ns + " --type image --repo-url-pattern ghcr\\.io/example/.* --username bot --password-file token.txt")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	s.note("SSH without the host keys to trust is refused before anything is sent:")
	r = s.run("kargo create credentials no-hosts --project " + ns + " --repo-url git@github.com:example/gitops.git --ssh-private-key-file deploy_key")
	require.Equal(t, cli.ExitUsage, r.code)
	r = s.run("kargo create credentials gitops --project " + ns + " --repo-url https://github.com/example/gitops.git --username kargo --password-file token.txt")
	require.Equal(t, cli.ExitError, r.code, "a Secret of that name exists")
	s.golden("credentials")

	require.NotContains(t, s.transcript.String()+r.stdout+r.stderr, token)
	got := &corev1.Secret{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gitops"}, got))
	require.Equal(t, "git", got.Labels[kargoapi.CredentialTypeLabelKey])
	require.Equal(t, token, string(got.Data[credentials.PasswordKey]))
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gitops-ssh"}, got))
	require.True(t, strings.HasPrefix(string(got.Data[credentials.SSHPrivateKeyKey]), "-----BEGIN OPENSSH"))
	require.NotEmpty(t, got.Data[credentials.KnownHostsKey])
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ghcr"}, got))
	require.Equal(t, "true", got.Labels[kargoapi.CredentialURLPatternLabelKey])
	require.Equal(t, "image", got.Labels[kargoapi.CredentialTypeLabelKey])
}
