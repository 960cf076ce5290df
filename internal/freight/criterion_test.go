package freight

import (
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func TestCriterion(t *testing.T) {
	release := []kargoapi.Image{{RepoURL: "nginx", Tag: "1.25.0", Digest: "sha256:a"}}
	rc := []kargoapi.Image{{RepoURL: "nginx", Tag: "1.26.0-rc.1", Digest: "sha256:b"}}
	tagged := []kargoapi.GitCommit{{RepoURL: "https://git.example/app.git", ID: "aaaa", Tag: "v1.2.0"}}
	for _, tc := range []struct {
		expression string
		commits    []kargoapi.GitCommit
		images     []kargoapi.Image
		want       bool
	}{
		{"images.all(i, !i.tag.contains('-rc'))", nil, release, true},
		{"images.all(i, !i.tag.contains('-rc'))", nil, rc, false},
		{"commits.exists(c, c.tag.startsWith('v1.'))", tagged, nil, true},
		{"commits.exists(c, c.tag.startsWith('v1.'))", nil, release, false},
		{"size(charts) == 0", nil, release, true},
	} {
		c, err := CompileCriterion(tc.expression)
		require.NoError(t, err)
		got, err := c.Allows(tc.commits, nil, nil)
		if tc.images != nil {
			got, err = c.Allows(tc.commits, tc.images, nil)
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got, tc.expression)
	}
	for expression, want := range map[string]string{
		"images.all(i, ":          "does not compile",
		"size(images)":            "must be true or false",
		"unknown.exists(x, true)": "does not compile",
	} {
		_, err := CompileCriterion(expression)
		require.ErrorContains(t, err, want)
	}
}
