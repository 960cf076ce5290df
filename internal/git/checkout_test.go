package git_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// A checkout is made from the shared mirror: after Discover warmed it, the
// only network work is one fetch (listing) and, for file contents, one
// fetch of exactly the tree's blobs.
func TestCheckoutCommitPush(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	src := srv.Commit(t, "app", "main", map[string]string{"base/app.yaml": "image: v1\n", "README": "hi\n"}, "init")
	srv.Tag(t, "app", "v1", src)
	cache, _ := newCache(t, git.Options{})
	work := t.TempDir()

	trees, err := cache.Checkout(ctx(t), git.CheckoutRequest{
		RepoURL: url, AuthorName: "Promoter", AuthorEmail: "promoter@example.com",
		Checkouts: []git.Checkout{
			{Dir: filepath.Join(work, "src"), Commit: src},
			{Dir: filepath.Join(work, "tag"), Tag: "v1"},
			{Dir: filepath.Join(work, "main")},
			{Dir: filepath.Join(work, "out"), Branch: "stages/test", Create: true},
		},
	})
	require.NoError(t, err)
	require.Len(t, trees, 4)
	require.Equal(t, src, trees[0].Head)
	require.Equal(t, "", trees[0].Branch)
	require.Equal(t, src, trees[1].Head)
	require.Equal(t, "main", trees[2].Branch)
	require.Equal(t, "", trees[3].Head, "a new orphan branch has no commit")
	require.Equal(t, "image: v1\n", readFile(t, filepath.Join(work, "src/base/app.yaml")))
	entries, err := os.ReadDir(filepath.Join(work, "out"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "an orphan branch starts with no files, only .git")
	require.Equal(t, 2, srv.Counts("app").InfoRefs, "one clone and one fetch of file contents for every checkout")

	// Commit rendered content on the orphan branch and push it.
	require.NoError(t, os.WriteFile(filepath.Join(work, "out/app.yaml"), []byte("rendered: v1\n"), 0o644))
	commit, changed, err := cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{
		Dir: filepath.Join(work, "out"), Message: "render v1",
		Trailers: [][2]string{{"Kargo-Stage", "demo/test"}, {"Kargo-Promotion", "uid-1"}},
	})
	require.NoError(t, err)
	require.True(t, changed)
	again, changed, err := cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{Dir: filepath.Join(work, "out"), Message: "nothing"})
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, commit, again, "nothing changed: HEAD is the result")

	res, err := cache.PushWorkTree(ctx(t), git.PushRequest{Dir: filepath.Join(work, "out"), IdempotencyTrailer: [2]string{"Kargo-Promotion", "uid-1"}})
	require.NoError(t, err)
	require.Equal(t, git.PushResult{Branch: "stages/test", Commit: commit, Pushed: true, Attempts: 1}, res)
	require.Equal(t, commit, srv.BranchHead(t, "app", "stages/test"))
	log := srv.Log(t, "app", "stages/test")
	require.Len(t, log, 1)
	require.Equal(t, "Promoter <promoter@example.com>", log[0].Author)
	require.Equal(t, "render v1\n\nKargo-Stage: demo/test\nKargo-Promotion: uid-1\n", log[0].Message)
	require.Equal(t, "rendered: v1\n", srv.Show(t, "app", "stages/test", "app.yaml"))

	// The same Promotion pushing again (a restart) finds its commit.
	pushes := srv.Counts("app").Pushes
	res, err = cache.PushWorkTree(ctx(t), git.PushRequest{Dir: filepath.Join(work, "out"), IdempotencyTrailer: [2]string{"Kargo-Promotion", "uid-1"}})
	require.NoError(t, err)
	require.True(t, res.AlreadyDone)
	require.Equal(t, commit, res.Commit)
	require.Equal(t, pushes, srv.Counts("app").Pushes)

	// A checkout made next sees the push without a new clone.
	trees, err = cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Checkouts: []git.Checkout{{Dir: filepath.Join(work, "out"), Branch: "stages/test"}}})
	require.NoError(t, err)
	require.Equal(t, commit, trees[0].Head, "a work tree of Checkout is replaced")
	require.Equal(t, "rendered: v1\n", readFile(t, filepath.Join(work, "out/app.yaml")))
}

// A branch that moved since the checkout gets the work tree's commit
// replayed onto it when the two touch different files, and refuses when
// they touch the same file.
func TestPushWorkTreeRebase(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a": "1\n", "b": "1\n"}, "init")
	cache, _ := newCache(t, git.Options{})
	dir := filepath.Join(t.TempDir(), "out")
	_, err := cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Checkouts: []git.Checkout{{Dir: dir, Branch: "main"}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("2\n"), 0o644))
	mine, _, err := cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{Dir: dir, Message: "a to 2"})
	require.NoError(t, err)
	theirs := srv.Commit(t, "app", "main", map[string]string{"b": "2\n"}, "someone else")

	res, err := cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir})
	require.NoError(t, err)
	require.True(t, res.Rebased)
	require.NotEqual(t, mine, res.Commit)
	log := srv.Log(t, "app", "main")
	require.Equal(t, res.Commit, log[0].SHA)
	require.Equal(t, []string{theirs}, log[0].Parents)
	require.Equal(t, "a to 2\n", log[0].Message)
	require.Equal(t, "2\n", srv.Show(t, "app", "main", "a"))
	require.Equal(t, "2\n", srv.Show(t, "app", "main", "b"))
	require.Equal(t, "2\n", readFile(t, filepath.Join(dir, "b")), "the work tree follows the replayed commit")

	// Both change b: a conflict, and nothing is pushed.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b"), []byte("mine\n"), 0o644))
	_, _, err = cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{Dir: dir, Message: "b"})
	require.NoError(t, err)
	theirs = srv.Commit(t, "app", "main", map[string]string{"b": "theirs\n"}, "someone else again")
	_, err = cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir})
	require.ErrorIs(t, err, git.ErrRebaseConflict)
	require.ErrorContains(t, err, ": b;")
	require.Equal(t, theirs, srv.BranchHead(t, "app", "main"))
}

// Pushes use the credentials given and the rules of Commit: none over
// plain http to another host, and none in the URL.
func TestWorkTreeCredentials(t *testing.T) {
	srv := newServer(t, gitserver.WithBasicAuth("kargo", "s3cret-pass"))
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a": "1\n"}, "init")
	cache, _ := newCache(t, git.Options{})
	dir := filepath.Join(t.TempDir(), "out")
	creds := &credentials.Credentials{Username: "kargo", Password: "s3cret-pass"}

	_, err := cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Checkouts: []git.Checkout{{Dir: dir}}})
	require.ErrorIs(t, err, sourceerr.ErrUnauthorized)
	_, err = cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: "http://kargo:s3cret-pass@" + srv.Host() + "/app.git", Checkouts: []git.Checkout{{Dir: dir}}})
	require.ErrorIs(t, err, sourceerr.ErrInvalid)
	require.NotContains(t, err.Error(), "s3cret-pass")
	_, err = cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: "http://git.example.com/app.git", Creds: creds, Checkouts: []git.Checkout{{Dir: dir}}})
	require.ErrorIs(t, err, sourceerr.ErrInsecureCredentials)

	_, err = cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Creds: creds, Checkouts: []git.Checkout{{Dir: dir}}})
	require.NoError(t, err)
	require.NotContains(t, readFile(t, filepath.Join(dir, ".git", "config")), "s3cret-pass", "credentials are never written to the work tree")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("2\n"), 0o644))
	_, _, err = cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{Dir: dir, Message: "a to 2"})
	require.NoError(t, err)
	_, err = cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir})
	require.ErrorIs(t, err, sourceerr.ErrUnauthorized)
	require.Zero(t, srv.Counts("app").Pushes)
	res, err := cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir, Creds: creds})
	require.NoError(t, err)
	require.True(t, res.Pushed)

	// Only work trees of Checkout are pushed from.
	plain := t.TempDir()
	_, err = cache.PushWorkTree(ctx(t), git.PushRequest{Dir: plain, Branch: "main"})
	require.ErrorIs(t, err, git.ErrInvalidRequest)
}
