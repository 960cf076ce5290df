package freight

import (
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func TestUndiscovered(t *testing.T) {
	found := &kargoapi.DiscoveredArtifacts{
		Commits: []kargoapi.GitCommit{{RepoURL: "https://git.example/app.git", ID: "aaaa", Tag: "v1"}},
		Images:  []kargoapi.Image{{RepoURL: "nginx", Tag: "1.25.0", Digest: "sha256:25"}, {RepoURL: "nginx", Tag: "1.24.0", Digest: "sha256:24"}},
		Charts:  []kargoapi.Chart{{RepoURL: "https://charts.example", Name: "app", Version: "1.0.0"}},
	}
	cases := []struct {
		name string
		f    kargoapi.Freight
		want []string
	}{
		{"discovered artifacts", kargoapi.Freight{Images: []kargoapi.Image{found.Images[1]}, Commits: found.Commits, Charts: found.Charts}, nil},
		{"another digest behind a discovered tag", kargoapi.Freight{Images: []kargoapi.Image{{RepoURL: "nginx", Tag: "1.25.0", Digest: "sha256:evil"}}},
			[]string{"image nginx:1.25.0 was not discovered"}},
		{"a discovered commit under another tag", kargoapi.Freight{Commits: []kargoapi.GitCommit{{RepoURL: "https://git.example/app.git", ID: "aaaa", Tag: "v2"}}},
			[]string{"commit https://git.example/app.git#aaaa was not discovered"}},
		{"an undiscovered chart version", kargoapi.Freight{Charts: []kargoapi.Chart{{RepoURL: "https://charts.example", Name: "app", Version: "9.0.0"}}},
			[]string{"chart https://charts.example app:9.0.0 was not discovered"}},
		{"two images of one repository", kargoapi.Freight{Images: found.Images},
			[]string{"image nginx appears twice; take one artifact per repository"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Undiscovered(&tc.f, found))
		})
	}
	require.Equal(t, []string{"image nginx:1.25.0 was not discovered"}, Undiscovered(&kargoapi.Freight{Images: found.Images[:1]}, nil), "nothing discovered yet")
}
