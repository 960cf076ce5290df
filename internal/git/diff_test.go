package git_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/git"
)

// TrailedDiffs shows only the commits that carry the trailer, each with the
// patch of every file it changed, fetched by a cache that never saw them
// (a blob-less mirror holds no file contents), within its bounds.
func TestTrailedDiffs(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "0\n", "c.txt": "keep\n"}, "seed")
	writer := git.NewCache(t.TempDir(), options(git.Options{}))
	commit := func(uid string, files map[string]string) string {
		t.Helper()
		res, err := writer.Commit(ctx(t), git.CommitRequest{
			RepoURL: url, ReadRef: "main", WriteBranch: "stages/test", Subject: "promote " + uid,
			Apply:              setFiles(files),
			Trailers:           [][2]string{{"Kargo-Stage", "p/test"}, {"Kargo-Promotion", uid}},
			IdempotencyTrailer: [2]string{"Kargo-Promotion", uid},
		})
		require.NoError(t, err)
		return res.Commit
	}
	first := commit("uid-1", map[string]string{"a.txt": "1\n", "b.txt": "new\n"})
	second := commit("uid-2", map[string]string{"a.txt": "2\n"})

	reader := git.NewCache(t.TempDir(), options(git.Options{}))
	req := func(uid string) git.DiffRequest {
		return git.DiffRequest{BranchRequest: git.BranchRequest{RepoURL: url, Branch: "stages/test"}, Trailer: [2]string{"Kargo-Promotion", uid}}
	}
	got, err := reader.TrailedDiffs(ctx(t), req("uid-1"))
	require.NoError(t, err)
	require.Len(t, got, 1, "only the commit of uid-1")
	d := got[0]
	require.Equal(t, first, d.ID)
	require.Equal(t, "promote uid-1", d.Subject)
	require.NotEmpty(t, d.Parent)
	require.Zero(t, d.MoreFiles)
	require.Len(t, d.Files, 2)
	require.Equal(t, "a.txt", d.Files[0].Path)
	require.Equal(t, "M", d.Files[0].Status)
	require.Contains(t, d.Files[0].Patch, "-0\n+1\n")
	require.NotContains(t, d.Files[0].Patch, "b.txt", "each file has its own patch")
	require.Equal(t, "b.txt", d.Files[1].Path)
	require.Equal(t, "A", d.Files[1].Status)
	require.Contains(t, d.Files[1].Patch, "+new\n")

	got, err = reader.TrailedDiffs(ctx(t), req("uid-2"))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, second, got[0].ID)
	require.Contains(t, got[0].Files[0].Patch, "-1\n+2\n", "against its own parent, uid-1's commit")

	got, err = reader.TrailedDiffs(ctx(t), req("uid-other"))
	require.NoError(t, err)
	require.Empty(t, got, "no commit carries another Promotion's trailer")

	bounded := req("uid-1")
	bounded.MaxFiles = 1
	got, err = reader.TrailedDiffs(ctx(t), bounded)
	require.NoError(t, err)
	require.Len(t, got[0].Files, 1)
	require.Equal(t, 1, got[0].MoreFiles)

	bounded = req("uid-1")
	bounded.MaxBytes = 40
	got, err = reader.TrailedDiffs(ctx(t), bounded)
	require.NoError(t, err)
	require.Len(t, got[0].Files, 2)
	require.LessOrEqual(t, len(got[0].Files[0].Patch), 40)
	require.True(t, got[0].Files[0].Truncated)
	require.True(t, got[0].Files[1].Truncated)
	require.Empty(t, got[0].Files[1].Patch)

	_, err = reader.TrailedDiffs(ctx(t), git.DiffRequest{BranchRequest: git.BranchRequest{RepoURL: url, Branch: "stages/test"}})
	require.ErrorIs(t, err, git.ErrInvalidRequest, "a trailer is required")
}
