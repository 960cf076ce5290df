package argocd

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSameRepo(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://github.com/example/gitops", "https://github.com/example/gitops", true},
		{"https://github.com/example/gitops", "https://github.com/example/gitops.git", true},
		{"https://github.com/example/gitops/", "https://github.com/example/gitops.git/", true},
		{"https://GitHub.com/example/gitops", "https://github.com/example/gitops", true},
		{"HTTPS://github.com/example/gitops", "https://github.com/example/gitops", true},
		{"https://User@GitHub.com/example/gitops", "https://User@github.com/example/gitops", true},
		{"git@GitHub.com:example/gitops.git", "git@github.com:example/gitops", true},
		{"https://github.com/example/GitOps", "https://github.com/example/gitops", false},
		{"https://github.com/example/gitops", "https://github.com/example/gitops-prod", false},
		{"https://github.com/example/gitops", "http://github.com/example/gitops", false},
		{"https://user@github.com/example/gitops", "https://User@github.com/example/gitops", false},
	} {
		t.Run(tc.a+" vs "+tc.b, func(t *testing.T) {
			require.Equal(t, tc.same, sameRepo(tc.a, tc.b))
			require.Equal(t, tc.same, sameRepo(tc.b, tc.a))
		})
	}
}

func TestSameChartRepo(t *testing.T) {
	require.True(t, sameChartRepo("oci://ghcr.io/example/charts", "ghcr.io/example/charts"))
	require.True(t, sameChartRepo("https://charts.example.com/", "https://charts.example.com"))
	require.False(t, sameChartRepo("oci://ghcr.io/example/charts", "ghcr.io/example/other"))
}
