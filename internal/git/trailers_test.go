package git_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/git"
)

// RecentCommits sees a push made by another cache (a controller that died
// after pushing), newest first, with the trailers of each commit.
func TestRecentCommits(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "0"}, "seed")
	reader := git.NewCache(t.TempDir(), options(git.Options{}))

	got, err := reader.RecentCommits(ctx(t), git.BranchRequest{RepoURL: url, Branch: "stages/test"})
	require.NoError(t, err)
	require.Empty(t, got, "a missing branch has no commits")

	writer := git.NewCache(t.TempDir(), options(git.Options{}))
	res, err := writer.Commit(ctx(t), git.CommitRequest{
		RepoURL: url, ReadRef: "main", WriteBranch: "stages/test", Subject: "promote",
		Apply:    setFiles(map[string]string{"a.txt": "1"}),
		Trailers: [][2]string{{"Kargo-Freight", "f1"}, {"Kargo-Stage", "kargo-demo/test"}, {"Kargo-Promotion", "uid-1"}},
	})
	require.NoError(t, err)

	got, err = reader.RecentCommits(ctx(t), git.BranchRequest{RepoURL: url, Branch: "stages/test"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, res.Commit, got[0].ID)
	require.Equal(t, map[string]string{"Kargo-Freight": "f1", "Kargo-Stage": "kargo-demo/test", "Kargo-Promotion": "uid-1"}, got[0].Trailers)
	require.Empty(t, got[1].Trailers, "the seed commit has none")

	_, err = reader.RecentCommits(ctx(t), git.BranchRequest{RepoURL: url, Branch: "bad..name"})
	require.ErrorIs(t, err, git.ErrInvalidRequest)
}
