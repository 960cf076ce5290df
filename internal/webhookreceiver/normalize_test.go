package webhookreceiver

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeRepo(t *testing.T) {
	same := [][]string{
		{"https://github.com/example/kargo-demo.git", "https://GitHub.com/example/kargo-demo", "git@github.com:example/kargo-demo.git", "ssh://git@github.com/example/kargo-demo.git", "git://github.com/example/kargo-demo.git", "https://user@github.com/example/kargo-demo/"},
		{"nginx", "docker.io/library/nginx", "index.docker.io/library/nginx", "library/nginx"},
		{"ghcr.io/example/app", "oci://ghcr.io/example/app"},
		{"localhost:5000/app", "http://localhost:5000/app"},
	}
	for _, group := range same {
		for _, u := range group[1:] {
			require.Equal(t, NormalizeRepo(group[0]), NormalizeRepo(u), "%q vs %q", group[0], u)
		}
	}
	require.NotEqual(t, NormalizeRepo("ghcr.io/example/app"), NormalizeRepo("ghcr.io/example/app2"))
	require.NotEqual(t, NormalizeRepo("nginx"), NormalizeRepo("ghcr.io/library/nginx"))
	require.Equal(t, "localhost:5000/app", NormalizeRepo("localhost:5000/app"), "a port is not an scp-like path")
}

func TestEventParsing(t *testing.T) {
	repos, err := gitHubRepos([]byte(`{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/example/kargo-demo.git","ssh_url":"git@github.com:example/kargo-demo.git"}}`))
	require.NoError(t, err)
	require.Len(t, repos, 2)
	_, err = gitHubRepos([]byte(`{"zen":"hi"}`))
	require.ErrorContains(t, err, "repository.clone_url")

	repos, err = registryRepos([]byte(`{"events":[{"action":"pull","target":{"repository":"app"}},{"action":"push","target":{"repository":"team/app","tag":"1.2.3"},"request":{"host":"registry.example:5000"}}]}`))
	require.NoError(t, err)
	require.Equal(t, []string{"registry.example:5000/team/app"}, repos)
	repos, err = registryRepos([]byte(`{"repository":"ghcr.io/example/app","tag":"1.0.0"}`))
	require.NoError(t, err)
	require.Equal(t, []string{"ghcr.io/example/app"}, repos)
	_, err = registryRepos([]byte(`not json`))
	require.ErrorContains(t, err, "parse registry event")
}
