package webhookreceiver

import (
	"testing"

	"github.com/stretchr/testify/require"
)

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
