package credentials

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func secret(name string, pattern bool, url, user string) corev1.Secret {
	s := corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kargo-demo", Labels: map[string]string{kargoapi.CredentialTypeLabelKey: "git"}},
		Data:       map[string][]byte{UsernameKey: []byte(user), PasswordKey: []byte("pw-" + user)},
	}
	if pattern {
		s.Labels[kargoapi.CredentialURLPatternLabelKey] = "true"
		s.Data[RepoURLPatternKey] = []byte(url)
	} else {
		s.Data[RepoURLKey] = []byte(url)
	}
	return s
}

func TestMatch(t *testing.T) {
	secrets := []corev1.Secret{
		secret("b-pattern", true, `https://github\.com/example/.*`, "pattern-b"),
		secret("a-pattern", true, `https://github\.com/.*`, "pattern-a"),
		secret("exact", false, "https://github.com/example/kargo-demo.git", "exact"),
	}
	cases := []struct{ url, want string }{
		{"https://github.com/example/kargo-demo.git", "exact"},
		{"https://github.com/example/kargo-demo", "exact"},
		{"https://github.com/example/kargo-demo/", "exact"},
		{"https://github.com/example/other.git", "pattern-a"},
		{"https://gitlab.com/example/other.git", ""},
		{"https://github.com.evil.example/x", ""},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			got, err := Match(append([]corev1.Secret(nil), secrets...), tc.url)
			require.NoError(t, err)
			if tc.want == "" {
				require.Nil(t, got)
				return
			}
			require.Equal(t, tc.want, got.Username)
			require.Equal(t, "pw-"+tc.want, got.Password)
		})
	}
	_, err := Match([]corev1.Secret{secret("bad", true, "(", "x")}, "https://x")
	require.ErrorContains(t, err, "kargo-demo/bad: repoURLPattern is not a regular expression")
}

func TestCredentialsNeverPrintThePassword(t *testing.T) {
	c := &Credentials{Username: "kargo", Password: "hunter2"}
	for _, format := range []string{"%v", "%+v", "%s", "%#v"} {
		require.NotContains(t, fmt.Sprintf(format, c), "hunter2", format)
	}
	require.Equal(t, "anonymous", (*Credentials)(nil).String())
}

// A user who may write a Warehouse but not read Secrets chooses the URL; the
// password must still go only to the host its Secret names.
func TestMatchSendsThePasswordOnlyToTheSecretsHost(t *testing.T) {
	secrets := []corev1.Secret{
		secret("a-unescaped", true, `https://git.example.com/.*`, "unescaped"),
		secret("b-escaped", true, `https://github\.com/example/.*`, "escaped"),
		secret("c-image", true, `ghcr\.io/example/.*`, "image"),
		secret("exact", false, "https://kargo.example/repo", "exact"),
	}
	cases := []struct{ name, url, want string }{
		{"the pattern's host", "https://github.com/example/app", "escaped"},
		{"an unescaped dot is a dot in the host", "https://git.example.com/team/app", "unescaped"},
		{"an unescaped dot does not match another host", "https://gitxexample.com/team/app", ""},
		{"userinfo that looks like the host", "https://github.com:x@evil.example/example/app", ""},
		{"userinfo before the host", "https://github.com@evil.example/example/app", ""},
		{"the host's name in the path", "https://evil.example/github.com/example/app", ""},
		{"an image reference", "ghcr.io/example/app", "image"},
		{"an image reference elsewhere", "ghcr.io.evil.example/example/app", ""},
		{"the Kelvin sign is not a K", "https://\u212Aargo.example/repo", ""},
		{"an exact URL", "https://KARGO.example/repo.git", "exact"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Match(append([]corev1.Secret(nil), secrets...), tc.url)
			require.NoError(t, err)
			if tc.want == "" {
				require.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			require.Equal(t, tc.want, got.Username)
		})
	}

	// A pattern that does not spell out its host gives nothing to the URLs
	// it matches, and says why.
	for _, loose := range []string{`https://github\.com.*`, `https://.*\.example\.com/.*`, `.*`, `(https://github\.com|https://evil\.example)/.*`} {
		t.Run("loose pattern "+loose, func(t *testing.T) {
			url := "https://github.com.evil.example/x.example.com/example/app"
			if strings.HasPrefix(loose, "(") {
				url = "https://evil.example/app"
			}
			got, err := Match([]corev1.Secret{secret("loose", true, loose, "loose")}, url)
			require.Nil(t, got)
			require.ErrorContains(t, err, "kargo-demo/loose: repoURLPattern")
			require.ErrorContains(t, err, "does not spell out its host")
			require.NotContains(t, err.Error(), "pw-loose")
		})
	}
}

func TestSSHAndGitHubAppSecrets(t *testing.T) {
	key := secret("deploy-key", true, `ssh://github\.com/example/.*`, "")
	key.Data[SSHPrivateKeyKey] = []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n...")
	key.Data[KnownHostsKey] = []byte("github.com ssh-ed25519 AAAA")
	for _, url := range []string{"git@github.com:example/app.git", "ssh://git@github.com/example/app.git", "github.com:example/app"} {
		got, err := MatchGit([]corev1.Secret{key}, url)
		require.NoError(t, err, url)
		require.NotNil(t, got, url)
		require.Equal(t, "an SSH key", got.String())
		require.Equal(t, key.Data[KnownHostsKey], got.KnownHosts)
	}
	for _, url := range []string{"git@evil.example:example/app.git", "git@github.com.evil.example:example/app.git", "ssh://git@evil.example/github.com/example/app"} {
		got, err := MatchGit([]corev1.Secret{key}, url)
		require.NoError(t, err, url)
		require.Nil(t, got, "%s is another host", url)
	}
	// An image reference with a port is not an scp-like address.
	img := secret("registry", true, `registry\.example\.com:5000/team/.*`, "")
	got, err := Match([]corev1.Secret{img}, "registry.example.com:5000/team/app")
	require.NoError(t, err)
	require.NotNil(t, got)

	app := secret("app", false, "https://github.com/example/app.git", "")
	app.Data[GitHubAppIDKey] = []byte("123")
	app.Data[GitHubAppInstallationIDKey] = []byte("456")
	app.Data[GitHubAppPrivateKeyKey] = []byte("-----BEGIN RSA PRIVATE KEY-----")
	got, err = MatchGit([]corev1.Secret{app}, "https://github.com/example/app")
	require.NoError(t, err)
	require.Equal(t, &GitHubApp{AppID: "123", InstallationID: "456", PrivateKey: app.Data[GitHubAppPrivateKeyKey]}, got.GitHubApp)
	require.NotContains(t, got.String()+fmt.Sprintf("%v %#v", got, got), "PRIVATE KEY")
}

// A Secret's repoURL is matched with repourl.Exact: spellings of its
// repository get it, and every spelling of another host, scheme or port
// gets nothing.
func TestExactRepoURLGoesOnlyToItsHost(t *testing.T) {
	gitSecrets := []corev1.Secret{secret("git-example", false, "https://git.example/org/app.git", "https")}
	sshKey := secret("git-example-ssh", false, "git@git.example:org/app.git", "ssh")
	cases := []struct {
		name, url, want string
	}{
		{"as written", "https://git.example/org/app.git", "https"},
		{"without .git, trailing slash", "https://git.example/org/app/", "https"},
		{"case of scheme, host and path", "HTTPS://Git.Example/Org/App", "https"},
		{"default port written out", "https://git.example:443/org/app", "https"},
		{"the host's name as userinfo", "https://git.example@evil.example/org/app", ""},
		{"the host's name and port as userinfo", "https://git.example:443@evil.example/org/app", ""},
		{"the host's name as a subdomain", "https://git.example.evil.example/org/app", ""},
		{"the host's name in the path", "https://evil.example/git.example/org/app", ""},
		{"a trailing dot", "https://git.example./org/app", ""},
		{"the Kelvin sign", "https://\u212Aargo.example/org/app", ""},
		{"a dotless i", "https://g\u0131t.example/org/app", ""},
		{"a dotted capital I", "https://G\u0130T.example/org/app", ""},
		{"a percent-encoded dot", "https://git%2Eexample/org/app", ""},
		{"punycode of a look-alike", "https://xn--gt-9ja.example/org/app", ""},
		{"plain http", "http://git.example/org/app", ""},
		{"another port", "https://git.example:8443/org/app", ""},
		{"ssh to the host", "ssh://git@git.example/org/app", ""},
		{"scp to the host", "git@git.example:org/app.git", ""},
		{"git://", "git://git.example/org/app", ""},
		{"garbage", "https://git.example/org/app\nx", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MatchGit(append([]corev1.Secret(nil), gitSecrets...), tc.url)
			require.NoError(t, err)
			if tc.want == "" {
				require.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			require.Equal(t, tc.want, got.Username)
		})
	}

	// An scp-like repoURL and its ssh:// spelling are one; another host,
	// port or scheme is not.
	for url, want := range map[string]bool{
		"git@git.example:org/app":                  true,
		"ssh://git@git.example/org/app.git":        true,
		"ssh://git.example:22/org/app":             true,
		"ssh://git@git.example:2222/org/app":       false,
		"git.example@evil.example:org/app":         false,
		"git@evil.example:git.example/org/app":     false,
		"https://git.example/org/app":              false,
		"git@git.example.:org/app":                 false,
		"ssh://git.example:x@evil.example/org/app": false,
	} {
		got, err := MatchGit([]corev1.Secret{sshKey}, url)
		require.NoError(t, err, url)
		require.Equal(t, want, got != nil, url)
	}

	// Registries: oci:// and a bare reference are one, Docker Hub's names
	// are one, and the port is part of the host.
	hub := secret("hub", false, "docker.io/library/nginx", "hub")
	chart := secret("chart", false, "oci://ghcr.io/example/charts/app", "chart")
	local := secret("local", false, "localhost:5000/app", "local")
	for url, want := range map[string]string{
		"nginx":                              "hub",
		"index.docker.io/library/nginx":      "hub",
		"registry-1.docker.io/nginx":         "hub",
		"ghcr.io/library/nginx":              "",
		"docker.io.evil.example/nginx":       "",
		"oci://ghcr.io/example/charts/app":   "chart",
		"ghcr.io/example/charts/app":         "chart",
		"https://ghcr.io/example/charts/app": "",
		"oci://ghcr.io./example/charts/app":  "",
		"localhost:5000/app":                 "local",
		"localhost:5001/app":                 "",
		"localhost/app":                      "",
	} {
		got, err := Match([]corev1.Secret{hub, chart, local}, url)
		require.NoError(t, err, url)
		if want == "" {
			require.Nil(t, got, url)
			continue
		}
		require.NotNil(t, got, url)
		require.Equal(t, want, got.Username, url)
	}
}
