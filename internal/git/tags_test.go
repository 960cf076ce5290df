package git_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/sourceerr"
)

func TestDiscoverTags(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	c1 := srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")
	c2 := srv.Commit(t, "app", "main", map[string]string{"a": "2"}, "two")
	c3 := srv.Commit(t, "app", "main", map[string]string{"a": "3"}, "three")
	// A release commit that no branch contains.
	srv.Git(t, "app", "", "branch", "hotfix", c1)
	orphan := srv.Commit(t, "app", "hotfix", map[string]string{"h": "1"}, "hotfix")
	srv.DeleteBranch(t, "app", "hotfix")

	// Creation order, oldest first. Annotated tags are dated when created;
	// a lightweight tag carries the date of its commit.
	srv.AnnotatedTag(t, "app", "v1.0.0", c1, "release 1.0.0")
	srv.Tag(t, "app", "v1.2.0", c2)
	srv.AnnotatedTag(t, "app", "v1.10.0", c2, "release 1.10.0")
	srv.AnnotatedTag(t, "app", "1.10.1", orphan, "hotfix release")
	srv.AnnotatedTag(t, "app", "v2.0.0-rc.1", c3, "release candidate")
	srv.AnnotatedTag(t, "app", "nightly", c3, "not a version")
	srv.Tag(t, "app", "2", c3) // looks like a number, is no semantic version
	cache, _ := newCache(t, git.Options{})

	tests := []struct {
		name       string
		strategy   kargoapi.CommitSelectionStrategy
		constraint string
		allow      string
		ignore     []string
		limit      int
		wantTags   []string
		wantIDs    []string
		wantErr    error
		errText    string
	}{
		{name: "semver picks the highest version, pre-releases included", strategy: kargoapi.CommitSelectionSemVer, limit: 1,
			wantTags: []string{"v2.0.0-rc.1"}, wantIDs: []string{c3}},
		{name: "semver orders numerically, not lexically", strategy: kargoapi.CommitSelectionSemVer, limit: 4,
			wantTags: []string{"v2.0.0-rc.1", "1.10.1", "v1.10.0", "v1.2.0"}, wantIDs: []string{c3, orphan, c2, c2}},
		{name: "semver constraint", strategy: kargoapi.CommitSelectionSemVer, constraint: "~1.10.0", limit: 5,
			wantTags: []string{"1.10.1", "v1.10.0"}},
		{name: "semver constraint excludes pre-releases", strategy: kargoapi.CommitSelectionSemVer, constraint: ">=1.0.0", limit: 1,
			wantTags: []string{"1.10.1"}},
		{name: "annotated tag is peeled to its commit", strategy: kargoapi.CommitSelectionSemVer, constraint: "1.0.0", limit: 1,
			wantTags: []string{"v1.0.0"}, wantIDs: []string{c1}},
		{name: "allowTags", strategy: kargoapi.CommitSelectionSemVer, allow: `^v1\.`, limit: 1,
			wantTags: []string{"v1.10.0"}},
		{name: "ignoreTags", strategy: kargoapi.CommitSelectionSemVer, constraint: "^1", ignore: []string{"1.10.1", "v1.10.0"}, limit: 1,
			wantTags: []string{"v1.2.0"}},
		{name: "lexical sorts names", strategy: kargoapi.CommitSelectionLexical, limit: 3,
			wantTags: []string{"v2.0.0-rc.1", "v1.2.0", "v1.10.0"}},
		{name: "lexical with allowTags", strategy: kargoapi.CommitSelectionLexical, allow: "^[0-9n]", limit: 5,
			wantTags: []string{"nightly", "2", "1.10.1"}},
		{name: "newest tag by creation date", strategy: kargoapi.CommitSelectionNewestTag, limit: 3,
			wantTags: []string{"nightly", "v2.0.0-rc.1", "1.10.1"}},
		{name: "newest tag within a constraint", strategy: kargoapi.CommitSelectionNewestTag, constraint: "<1.5", limit: 2,
			wantTags: []string{"v1.0.0", "v1.2.0"}},
		{name: "no tag satisfies the constraint", strategy: kargoapi.CommitSelectionSemVer, constraint: "^3.0.0", limit: 1,
			wantErr: sourceerr.ErrNoMatch, errText: `semverConstraint "^3.0.0"`},
		{name: "no tag matches allowTags", strategy: kargoapi.CommitSelectionLexical, allow: "^release-", limit: 1,
			wantErr: sourceerr.ErrNoMatch, errText: `allowTags "^release-"`},
		{name: "invalid allowTags", strategy: kargoapi.CommitSelectionSemVer, allow: "v(1", limit: 1,
			wantErr: sourceerr.ErrInvalid, errText: "allowTags"},
		{name: "invalid constraint", strategy: kargoapi.CommitSelectionSemVer, constraint: "^^1", limit: 1,
			wantErr: sourceerr.ErrInvalid, errText: "semverConstraint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := discover(t, cache, kargoapi.GitSubscription{
				RepoURL:                 kargoapi.GitRepoURL(url),
				CommitSelectionStrategy: tt.strategy,
				SemverConstraint:        kargoapi.SemverConstraint(tt.constraint),
				AllowTags:               tt.allow,
				IgnoreTags:              tt.ignore,
			}, nil, tt.limit)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorContains(t, err, tt.errText)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantTags, tags(got))
			if tt.wantIDs != nil {
				require.Equal(t, tt.wantIDs, ids(got))
			}
			for _, c := range got {
				require.Equal(t, url, c.RepoURL)
				require.Empty(t, c.Branch)
				require.Len(t, c.ID, 40)
			}
		})
	}

	t.Run("message and author are the commit's, not the tag's", func(t *testing.T) {
		got := mustDiscover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), CommitSelectionStrategy: kargoapi.CommitSelectionSemVer, SemverConstraint: "1.0.0"}, nil, 1)
		require.Equal(t, "one", got[0].Message)
		require.Equal(t, "Test Author <author@example.com>", got[0].Author)
	})

	t.Run("path filters do not apply to tags", func(t *testing.T) {
		_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), CommitSelectionStrategy: kargoapi.CommitSelectionNewestTag, IncludePaths: []string{"apps/"}}, nil, 1)
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
	})

	t.Run("new and deleted tags are seen after Invalidate", func(t *testing.T) {
		srv.AnnotatedTag(t, "app", "v3.0.0", c3, "three")
		srv.Git(t, "app", "", "tag", "-d", "v2.0.0-rc.1")
		cache.Invalidate(url)
		got := mustDiscover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), CommitSelectionStrategy: kargoapi.CommitSelectionSemVer}, nil, 2)
		require.Equal(t, []string{"v3.0.0", "1.10.1"}, tags(got))
	})

	t.Run("repository without tags", func(t *testing.T) {
		bare := srv.CreateRepo("notags")
		srv.Commit(t, "notags", "main", map[string]string{"a": "1"}, "one")
		_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(bare), CommitSelectionStrategy: kargoapi.CommitSelectionLexical}, nil, 1)
		require.ErrorIs(t, err, sourceerr.ErrNoMatch)
		require.ErrorContains(t, err, "no tags")
	})
}

func TestDiscoverTagsOfTagsAndTrees(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	c1 := srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")
	srv.AnnotatedTag(t, "app", "v1.0.0", c1, "inner")
	// A tag of the tag v1.0.0, and a tag of a tree: the first still names
	// a commit, the second names nothing to deploy.
	srv.AnnotatedTag(t, "app", "v1.0.1", "refs/tags/v1.0.0", "outer")
	srv.AnnotatedTag(t, "app", "v9.0.0", c1+"^{tree}", "a tree")
	cache, _ := newCache(t, git.Options{})

	got := mustDiscover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), CommitSelectionStrategy: kargoapi.CommitSelectionSemVer}, nil, 5)
	require.Equal(t, []string{"v1.0.1", "v1.0.0"}, tags(got))
	require.Equal(t, []string{c1, c1}, ids(got))
	require.Equal(t, "one", got[0].Message)
	require.Equal(t, "Test Author <author@example.com>", got[0].Author)
}
