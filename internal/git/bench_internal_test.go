package git

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

// BenchmarkSemverTagSelection measures choosing among 10,000 tags once they
// are listed, which every subscriber with a new selection pays after each
// change of the repository. The tags are written straight into the served
// repository with one `update-ref --stdin` and reach the mirror in one
// clone, as they would from a real host.
func BenchmarkSemverTagSelection(b *testing.B) {
	srv := gitserver.New(b)
	url := srv.CreateRepo("tags")
	head := srv.Commit(b, "tags", "main", map[string]string{"a": "1"}, "one")
	r := rand.New(rand.NewPCG(1, 2))
	var refs strings.Builder
	seen := map[string]bool{}
	for len(seen) < 10_000 {
		name := fmt.Sprintf("v%d.%d.%d", r.IntN(30), r.IntN(100), r.IntN(100))
		switch r.IntN(20) {
		case 0:
			name += fmt.Sprintf("-rc.%d", r.IntN(5))
		case 1:
			name = fmt.Sprintf("build-%d", r.IntN(1_000_000))
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		fmt.Fprintf(&refs, "create refs/tags/%s %s\n", name, head)
	}
	srv.Git(b, "tags", refs.String(), "update-ref", "--stdin")

	cache := NewCache(b.TempDir(), Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(srv.Host())})})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	_, err := cache.Discover(ctx, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), CommitSelectionStrategy: kargoapi.CommitSelectionSemVer}, nil, 1, time.Hour)
	require.NoError(b, err)
	b.Logf("first Discover (clone of 10,000 tags, listing, selection): %v", time.Since(start))
	var snap *snapshot
	var dir string
	for _, e := range cache.entries {
		snap, dir = e.snap, e.dir
	}
	tags, err := cache.loadTags(ctx, dir, snap)
	require.NoError(b, err)
	require.Len(b, tags, 10_000)

	for _, bc := range []struct {
		name string
		sub  kargoapi.GitSubscription
	}{
		{name: "highest", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer}},
		{name: "constraint", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer, SemverConstraint: "^12.5 || ~20.1"}},
		{name: "constraint+allow+ignore", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer, SemverConstraint: ">=3.0.0 <25.0.0", AllowTags: `^v\d+\.\d+\.\d+$`, IgnoreTags: []string{"v24.99.99", "v24.98.0"}}},
	} {
		sel, err := newSelector(bc.sub)
		require.NoError(b, err)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := selectTags(tags, sel, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The first selection after the tags change also parses every name;
	// loadTags does that once per change for all subscribers.
	b.Run("parse+highest", func(b *testing.B) {
		sel, err := newSelector(kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer})
		require.NoError(b, err)
		parsed := make([]tagRef, len(tags))
		for b.Loop() {
			for i, t := range tags {
				t.version = parseTagVersion(t.name)
				parsed[i] = t
			}
			if _, err := selectTags(parsed, sel, 10); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What a refresh that changed something costs locally, and what the
	// first tag subscriber after a change of the tags adds.
	b.Run("readSnapshot", func(b *testing.B) {
		for b.Loop() {
			if _, err := cache.readSnapshot(ctx, dir, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("loadTags", func(b *testing.B) {
		for b.Loop() {
			if _, err := cache.loadTags(ctx, dir, &snapshot{tags: &tagSet{}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
