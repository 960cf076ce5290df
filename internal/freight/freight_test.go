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
// (The expected hashes were computed outside Go, with printf ... | sha1sum,
// as docs/freight.md shows.)
func TestFingerprintIsStable(t *testing.T) {
	demo := &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "kargo-demo"}
	require.Equal(t, []string{
		"origin:Warehouse/kargo-demo",
		"chart:https://charts.example.com#app:1.2.3",
		"commit:https://github.com/example/kargo-demo.git#02d153f75e5c042d576c713be52b57e1db8ddc97",
		"image:nginx:1.24.0@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
	}, CanonicalLines(demo, []kargoapi.GitCommit{commit}, []kargoapi.Image{nginx}, []kargoapi.Chart{chart}))
	require.Equal(t, "85671a8d44db8848a037a0db69b87a4b4a053c7b", Fingerprint(demo, []kargoapi.GitCommit{commit}, []kargoapi.Image{nginx}, []kargoapi.Chart{chart}))
	require.Equal(t, "61c78923e961c59451e5e821cacd4d0144b1efb5", Fingerprint(demo, nil, []kargoapi.Image{{RepoURL: "nginx", Tag: "1.24.0"}}, nil))
	tagged := kargoapi.GitCommit{RepoURL: "https://git.example.com/app.git", ID: commit.ID, Tag: "v1.0.0"}
	require.Equal(t, "ea57e864f0ba2473c161aaf781ad73a08abdddb3", Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "app"}, []kargoapi.GitCommit{tagged}, nil, nil))

	// Without an origin or commit tags, the form kargo used before: the
	// names of Freight created then.
	require.Equal(t, "048d6965d22716af4903366ce67d88b8d69777e7", Fingerprint(nil, []kargoapi.GitCommit{commit}, []kargoapi.Image{nginx}, []kargoapi.Chart{chart}))
	require.Equal(t, "048d6965d22716af4903366ce67d88b8d69777e7", LegacyFingerprint([]kargoapi.GitCommit{commit}, []kargoapi.Image{nginx}, []kargoapi.Chart{chart}))
	require.Equal(t, "b4ec9e6b587416af5b7ebf051e429a7b97fdc8ac", Fingerprint(nil, nil, []kargoapi.Image{{RepoURL: "nginx", Tag: "1.24.0"}}, nil))
	require.Equal(t, LegacyFingerprint([]kargoapi.GitCommit{commit}, nil, nil), LegacyFingerprint([]kargoapi.GitCommit{{RepoURL: commit.RepoURL, ID: commit.ID, Tag: "v1"}}, nil, nil),
		"the legacy form ignores tags")
}

func TestFingerprint(t *testing.T) {
	w := &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}
	base := Fingerprint(w, []kargoapi.GitCommit{commit}, []kargoapi.Image{nginx}, nil)
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{40}$`), base)

	other := nginx
	other.RepoURL = "ghcr.io/example/app"
	two := []kargoapi.Image{nginx, other}
	swapped := []kargoapi.Image{other, nginx}
	require.Equal(t, Fingerprint(w, nil, two, nil), Fingerprint(w, nil, swapped, nil), "order of artifacts must not matter")

	described := commit
	described.Branch, described.Message, described.Author = "release", "a different description", "someone"
	require.Equal(t, base, Fingerprint(w, []kargoapi.GitCommit{described}, []kargoapi.Image{nginx}, nil),
		"how a commit was found is not part of the material")

	for name, mutate := range map[string]func(*kargoapi.FreightOrigin, *kargoapi.GitCommit, *kargoapi.Image){
		"commit id": func(_ *kargoapi.FreightOrigin, c *kargoapi.GitCommit, _ *kargoapi.Image) {
			c.ID = "1111111111111111111111111111111111111111"
		},
		"commit repo": func(_ *kargoapi.FreightOrigin, c *kargoapi.GitCommit, _ *kargoapi.Image) {
			c.RepoURL = "https://github.com/example/other.git"
		},
		"commit tag":  func(_ *kargoapi.FreightOrigin, c *kargoapi.GitCommit, _ *kargoapi.Image) { c.Tag = "v1.0.0" },
		"image tag":   func(_ *kargoapi.FreightOrigin, _ *kargoapi.GitCommit, i *kargoapi.Image) { i.Tag = "1.24.1" },
		"digest":      func(_ *kargoapi.FreightOrigin, _ *kargoapi.GitCommit, i *kargoapi.Image) { i.Digest = "sha256:00" },
		"origin name": func(o *kargoapi.FreightOrigin, _ *kargoapi.GitCommit, _ *kargoapi.Image) { o.Name = "other" },
		"origin kind": func(o *kargoapi.FreightOrigin, _ *kargoapi.GitCommit, _ *kargoapi.Image) {
			o.Kind = kargoapi.FreightOriginStage
		},
	} {
		t.Run(name, func(t *testing.T) {
			o, c, i := *w, commit, nginx
			mutate(&o, &c, &i)
			require.NotEqual(t, base, Fingerprint(&o, []kargoapi.GitCommit{c}, []kargoapi.Image{i}, nil))
		})
	}
	// Moving a field between artifacts cannot collide: each line says its kind.
	require.NotEqual(t,
		Fingerprint(nil, nil, nil, []kargoapi.Chart{{RepoURL: "a", Name: "b", Version: "1"}}),
		Fingerprint(nil, nil, nil, []kargoapi.Chart{{RepoURL: "a#b", Version: "1"}}),
	)
}

func TestAliasCandidate(t *testing.T) {
	name := Fingerprint(nil, nil, []kargoapi.Image{nginx}, nil)
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
		firsts[AliasCandidate(Fingerprint(nil, nil, []kargoapi.Image{{RepoURL: "nginx", Tag: string(rune('a'+i%26)) + string(rune(i))}}, nil), 0)] = true
	}
	require.Greater(t, len(firsts), 1800)
}
