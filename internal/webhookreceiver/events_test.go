package webhookreceiver

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEventParsing(t *testing.T) {
	gh := httptest.NewRequest(http.MethodPost, "/", nil)
	ev, err := parseGitHub(gh, []byte(`{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/example/kargo-demo.git","ssh_url":"git@github.com:example/kargo-demo.git"}}`))
	require.NoError(t, err)
	require.Len(t, ev.repos, 2)
	_, err = parseGitHub(gh, []byte(`{"zen":"hi"}`))
	require.ErrorContains(t, err, "repository.clone_url")

	repos, err := registryRepos([]byte(`{"events":[{"action":"pull","target":{"repository":"app"}},{"action":"push","target":{"repository":"team/app","tag":"1.2.3"},"request":{"host":"registry.example:5000"}}]}`))
	require.NoError(t, err)
	require.Equal(t, []string{"registry.example:5000/team/app"}, repos)
	repos, err = registryRepos([]byte(`{"repository":"ghcr.io/example/app","tag":"1.0.0"}`))
	require.NoError(t, err)
	require.Equal(t, []string{"ghcr.io/example/app"}, repos)
	_, err = registryRepos([]byte(`not json`))
	require.ErrorContains(t, err, "parse registry event")
}
