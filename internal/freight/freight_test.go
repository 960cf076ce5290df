package freight

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

var (
	commit = kargoapi.GitCommit{RepoURL: "https://github.com/example/kargo-demo.git", ID: "02d153f75e5c042d576c713be52b57e1db8ddc97", Branch: "main"}
	nginx  = kargoapi.Image{RepoURL: "nginx", Tag: "1.24.0", Digest: "sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"}
	chart  = kargoapi.Chart{RepoURL: "https://charts.example.com", Name: "app", Version: "1.2.3"}
)

// The canonical form is part of the API: these names must never change.
// (The expected hashes were computed outside Go, with Python's hashlib.)
func TestFingerprintIsStable(t *testing.T) {
	require.Equal(t, []string{
		"chart:https://charts.example.com#app:1.2.3",
		"commit:https://github.com/example/kargo-demo.git#02d153f75e5c042d576c713be52b57e1db8ddc97",
		"image:nginx:1.24.0@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
	}, CanonicalLines([]kargoapi.GitCommit{commit}, []kargoapi.Image{nginx}, []kargoapi.Chart{chart}))
	require.Equal(t, "048d6965d22716af4903366ce67d88b8d69777e7", Fingerprint([]kargoapi.GitCommit{commit}, []kargoapi.Image{nginx}, []kargoapi.Chart{chart}))
	require.Equal(t, "b4ec9e6b587416af5b7ebf051e429a7b97fdc8ac", Fingerprint(nil, []kargoapi.Image{{RepoURL: "nginx", Tag: "1.24.0"}}, nil))
}

func TestFingerprint(t *testing.T) {
	base := Fingerprint([]kargoapi.GitCommit{commit}, []kargoapi.Image{nginx}, nil)
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{40}$`), base)

	other := nginx
	other.RepoURL = "ghcr.io/example/app"
	two := []kargoapi.Image{nginx, other}
	swapped := []kargoapi.Image{other, nginx}
	require.Equal(t, Fingerprint(nil, two, nil), Fingerprint(nil, swapped, nil), "order of artifacts must not matter")

	described := commit
	described.Branch, described.Message, described.Author = "release", "a different description", "someone"
	require.Equal(t, base, Fingerprint([]kargoapi.GitCommit{described}, []kargoapi.Image{nginx}, nil),
		"how a commit was found is not part of the material")

	for name, mutate := range map[string]func(*kargoapi.GitCommit, *kargoapi.Image){
		"commit id":   func(c *kargoapi.GitCommit, _ *kargoapi.Image) { c.ID = "1111111111111111111111111111111111111111" },
		"commit repo": func(c *kargoapi.GitCommit, _ *kargoapi.Image) { c.RepoURL = "https://github.com/example/other.git" },
		"image tag":   func(_ *kargoapi.GitCommit, i *kargoapi.Image) { i.Tag = "1.24.1" },
		"digest":      func(_ *kargoapi.GitCommit, i *kargoapi.Image) { i.Digest = "sha256:00" },
	} {
		t.Run(name, func(t *testing.T) {
			c, i := commit, nginx
			mutate(&c, &i)
			require.NotEqual(t, base, Fingerprint([]kargoapi.GitCommit{c}, []kargoapi.Image{i}, nil))
		})
	}
	// Moving a field between artifacts cannot collide: each line says its kind.
	require.NotEqual(t,
		Fingerprint(nil, nil, []kargoapi.Chart{{RepoURL: "a", Name: "b", Version: "1"}}),
		Fingerprint(nil, nil, []kargoapi.Chart{{RepoURL: "a#b", Version: "1"}}),
	)
}

func TestAliasCandidate(t *testing.T) {
	name := Fingerprint(nil, []kargoapi.Image{nginx}, nil)
	require.Equal(t, AliasCandidate(name, 0), AliasCandidate(name, 0), "aliases are reproducible")
	seen := map[string]bool{}
	for attempt := 0; attempt < MaxAliasAttempts+3; attempt++ {
		a := AliasCandidate(name, attempt)
		require.Empty(t, validation.IsValidLabelValue(a), "alias %q is not a valid label value", a)
		require.Regexp(t, `^[a-z]+-[a-z]+(-[0-9a-f]{8})?$`, a)
		seen[a] = true
	}
	require.Greater(t, len(seen), MaxAliasAttempts-3, "attempts should offer different aliases")
	require.Contains(t, AliasCandidate(name, MaxAliasAttempts), "-"+name[:8])

	// Across many Freight, first candidates spread over the word space.
	firsts := map[string]bool{}
	for i := 0; i < 2000; i++ {
		firsts[AliasCandidate(Fingerprint(nil, []kargoapi.Image{{RepoURL: "nginx", Tag: string(rune('a'+i%26)) + string(rune(i))}}, nil), 0)] = true
	}
	require.Greater(t, len(firsts), 1800)
}
