package git_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/sourceerr"
)

func TestDiscoverNewestFromBranch(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	c1 := srv.Commit(t, "app", "main", map[string]string{"a.txt": "1"}, "first")
	c2 := srv.Commit(t, "app", "main", map[string]string{"a.txt": "2"}, "second\n\nwith a body that is not part of the message")
	// A feature branch merged into main: its own commits are not on main's
	// first-parent history, the merge is.
	srv.Git(t, "app", "", "branch", "feature", c2)
	f1 := srv.Commit(t, "app", "feature", map[string]string{"f.txt": "1"}, "feature work")
	merge := srv.Merge(t, "app", "main", "feature", "Merge feature")
	long := strings.Repeat("x", 300)
	c4 := srv.Commit(t, "app", "main", map[string]string{"a.txt": "4"}, long)
	d1 := srv.Commit(t, "app", "dev", map[string]string{"d.txt": "1"}, "dev only")
	srv.Commit(t, "app", "trunk", map[string]string{"t.txt": "1"}, "trunk")
	cache, _ := newCache(t, git.Options{})

	tests := []struct {
		name       string
		branch     string
		limit      int
		wantIDs    []string
		wantBranch string
	}{
		{name: "head of the branch", branch: "main", limit: 1, wantIDs: []string{c4}, wantBranch: "main"},
		{name: "first-parent history newest first", branch: "main", limit: 10, wantIDs: []string{c4, merge, c2, c1}, wantBranch: "main"},
		{name: "history cut at limit", branch: "main", limit: 2, wantIDs: []string{c4, merge}, wantBranch: "main"},
		{name: "other branch", branch: "dev", limit: 1, wantIDs: []string{d1}, wantBranch: "dev"},
		{name: "default branch when none is set", branch: "", limit: 1, wantIDs: []string{c4}, wantBranch: "main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustDiscover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: kargoapi.BranchName(tt.branch)}, nil, tt.limit)
			require.Equal(t, tt.wantIDs, ids(got))
			for _, c := range got {
				require.Equal(t, url, c.RepoURL)
				require.Equal(t, tt.wantBranch, c.Branch)
				require.Empty(t, c.Tag)
				require.Equal(t, "Test Author <author@example.com>", c.Author)
			}
		})
	}
	require.NotContains(t, ids(mustDiscover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}, nil, 10)), f1)

	t.Run("message is the subject line, truncated", func(t *testing.T) {
		got := mustDiscover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}, nil, 3)
		require.Len(t, []rune(got[0].Message), 200)
		require.True(t, strings.HasPrefix(got[0].Message, "xxxx"))
		require.True(t, strings.HasSuffix(got[0].Message, "…"))
		require.Equal(t, "second", got[2].Message)
	})

	t.Run("missing branch is not found and named", func(t *testing.T) {
		_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "release/9"}, nil, 1)
		require.ErrorIs(t, err, sourceerr.ErrNotFound)
		require.ErrorContains(t, err, `"release/9"`)
		require.ErrorContains(t, err, url)
	})
}

func TestDiscoverDefaultBranch(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "1"}, "on main")
	trunk := srv.Commit(t, "app", "trunk", map[string]string{"t.txt": "1"}, "on trunk")
	srv.SetDefaultBranch(t, "app", "trunk")
	cache, _ := newCache(t, git.Options{})
	sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}

	got := mustDiscover(t, cache, sub, nil, 1)
	require.Equal(t, []string{trunk}, ids(got))
	require.Equal(t, "trunk", got[0].Branch)

	t.Run("a changed default branch is noticed on the next listing", func(t *testing.T) {
		main2 := srv.Commit(t, "app", "main", map[string]string{"a.txt": "2"}, "main again")
		srv.SetDefaultBranch(t, "app", "main")
		cache.Invalidate(url)
		before := srv.Counts("app").InfoRefs
		got := mustDiscover(t, cache, sub, nil, 1)
		require.Equal(t, []string{main2}, ids(got))
		require.Equal(t, "main", got[0].Branch)
		require.Equal(t, before+2, srv.Counts("app").InfoRefs, "the fetch, then one ls-remote for the new default branch")

		cache.Invalidate(url)
		mustDiscover(t, cache, sub, nil, 1)
		require.Equal(t, before+3, srv.Counts("app").InfoRefs, "once known, the default branch costs nothing more")
	})

	t.Run("empty repository has no default branch", func(t *testing.T) {
		empty := srv.CreateRepo("empty")
		_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(empty)}, nil, 1)
		require.ErrorIs(t, err, sourceerr.ErrNotFound)
		require.ErrorContains(t, err, "default branch")
	})
}

func TestDiscoverPathFilters(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("mono")
	web := srv.Commit(t, "mono", "main", map[string]string{"apps/web/values.yaml": "1"}, "web")
	api := srv.Commit(t, "mono", "main", map[string]string{"apps/api/values.yaml": "1"}, "api")
	docs := srv.Commit(t, "mono", "main", map[string]string{"docs/readme.md": "1"}, "docs")
	webDocs := srv.Commit(t, "mono", "main", map[string]string{"apps/web/docs/guide.md": "1"}, "web docs")
	both := srv.Commit(t, "mono", "main", map[string]string{"apps/api/values.yaml": "2", "docs/readme.md": "2"}, "api and docs")
	cache, _ := newCache(t, git.Options{})

	tests := []struct {
		name             string
		include, exclude []string
		limit            int
		want             []string
		wantErr          error
	}{
		{name: "prefix", include: []string{"apps/web/"}, limit: 5, want: []string{webDocs, web}},
		{name: "prefix minus excluded subtree", include: []string{"apps/web/"}, exclude: []string{"apps/web/docs/"}, limit: 5, want: []string{web}},
		{name: "glob on the whole path", include: []string{"apps/*/values.yaml"}, limit: 5, want: []string{both, api, web}},
		{name: "glob on a parent directory", include: []string{"apps/w*"}, limit: 1, want: []string{webDocs}},
		{name: "regex", include: []string{"regex:^docs/.*\\.md$"}, limit: 5, want: []string{both, docs}},
		{name: "regexp spelling", include: []string{"regexp:guide"}, limit: 5, want: []string{webDocs}},
		{name: "only excludes: commits touching only excluded paths are skipped", exclude: []string{"docs/"}, limit: 5, want: []string{both, webDocs, api, web}},
		{name: "a commit touching an included and an excluded path counts", include: []string{"apps/"}, exclude: []string{"docs/"}, limit: 1, want: []string{both}},
		{name: "newer commits touching no included path are skipped", include: []string{"apps/web/values.yaml"}, limit: 1, want: []string{web}},
		{name: "no commit matches", include: []string{"charts/"}, limit: 1, wantErr: sourceerr.ErrNoMatch},
		{name: "everything excluded", include: []string{"docs/"}, exclude: []string{"docs/"}, limit: 1, wantErr: sourceerr.ErrNoMatch},
		{name: "invalid regex", include: []string{"regex:apps/(web"}, limit: 1, wantErr: sourceerr.ErrInvalid},
		{name: "invalid glob", exclude: []string{"apps/[web"}, limit: 1, wantErr: sourceerr.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := discover(t, cache, kargoapi.GitSubscription{
				RepoURL:      kargoapi.GitRepoURL(url),
				IncludePaths: tt.include,
				ExcludePaths: tt.exclude,
			}, nil, tt.limit)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, ids(got))
		})
	}

	t.Run("no match says which filters and how far it looked", func(t *testing.T) {
		_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), IncludePaths: []string{"charts/"}}, nil, 1)
		require.ErrorContains(t, err, `"charts/"`)
		require.ErrorContains(t, err, "last 5 commits")
	})

	t.Run("history depth bounds the search", func(t *testing.T) {
		shallow, _ := newCache(t, git.Options{HistoryDepth: 2})
		_, err := discover(t, shallow, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), IncludePaths: []string{"apps/web/values.yaml"}}, nil, 1)
		require.ErrorIs(t, err, sourceerr.ErrNoMatch)
	})

	t.Run("invalid filters fail before any network operation", func(t *testing.T) {
		fresh, _ := newCache(t, git.Options{})
		_, err := discover(t, fresh, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), IncludePaths: []string{"regex:("}}, nil, 1)
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
		require.Equal(t, git.Stats{}, fresh.Stats(url))
	})

	t.Run("path queries never fetch file contents", func(t *testing.T) {
		before := srv.Counts("mono")
		for _, include := range []string{"apps/", "docs/", "regex:.*"} {
			_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), IncludePaths: []string{include}}, nil, 5)
			require.NoError(t, err)
		}
		require.Equal(t, before, srv.Counts("mono"))
	})
}
