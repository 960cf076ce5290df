package repourl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKey(t *testing.T) {
	same := [][]string{
		{"https://github.com/example/kargo-demo.git", "https://GitHub.com/example/kargo-demo", "git@github.com:example/kargo-demo.git", "ssh://git@github.com/example/kargo-demo.git", "git://github.com/example/kargo-demo.git", "https://user@github.com/example/kargo-demo/", "http://github.com/example/kargo-demo"},
		{"nginx", "docker.io/library/nginx", "index.docker.io/library/nginx", "library/nginx"},
		{"ghcr.io/example/app", "oci://ghcr.io/example/app"},
		{"localhost:5000/app", "http://localhost:5000/app"},
		// Userinfo that looks like a host is still userinfo: the request
		// goes to evil.example.
		{"https://evil.example/org/repo", "https://github.com:x@evil.example/org/repo"},
	}
	for _, group := range same {
		for _, u := range group[1:] {
			require.True(t, Same(group[0], u), "%q vs %q", group[0], u)
		}
	}
	require.False(t, Same("ghcr.io/example/app", "ghcr.io/example/app2"))
	require.False(t, Same("nginx", "ghcr.io/library/nginx"))
	require.False(t, Same("https://github.com/example/a", "https://gitlab.com/example/a"))
	require.Equal(t, "localhost:5000/app", Key("localhost:5000/app"), "a port is not an scp-like path")
}
