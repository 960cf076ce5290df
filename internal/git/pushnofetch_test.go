package git_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/git"
)

// pushnofetchWorkTree checks main of url out into a new directory and
// commits one change in it with the given trailers.
func pushnofetchWorkTree(t *testing.T, cache *git.Cache, url string, trailers [][2]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	_, err := cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Owner: "demo", Checkouts: []git.Checkout{{Dir: dir, Branch: "main"}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stage.yaml"), []byte("tag: v2\n"), 0o644))
	_, changed, err := cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{Dir: dir, Message: "promote v2", Trailers: trailers})
	require.NoError(t, err)
	require.True(t, changed)
	return dir
}

// A push that is not forced goes out without a fetch first: the checkout's
// fetch (or the mirror as it is) is enough, and one push is the only
// request to the host.
func TestPushWorkTreeWithoutFetch(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"stage.yaml": "tag: v1\n"}, "init")
	cache, _ := newCache(t, git.Options{})
	dir := pushnofetchWorkTree(t, cache, url, nil)
	srv.ResetCounts()
	res, err := cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir})
	require.NoError(t, err)
	require.True(t, res.Pushed)
	require.Equal(t, 1, res.Attempts)
	require.Equal(t, 0, srv.Counts("app").LsRefs, "no listing before the push")
	require.Equal(t, 2, srv.Requests("app"), "the push's advertisement and its pack")
	require.Equal(t, res.Commit, srv.BranchHead(t, "app", "main"))
}

// A push that loses a race to a commit the mirror has not seen is refused
// by the host (not a fast-forward) and leaves the branch as the other
// writer left it; given more attempts, it fetches and lands on top.
func TestPushWorkTreeLosingARaceIsRefused(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"stage.yaml": "tag: v1\n", "other.yaml": "x: 1\n"}, "init")
	cache, _ := newCache(t, git.Options{})
	dir := pushnofetchWorkTree(t, cache, url, nil)
	theirs := srv.Commit(t, "app", "main", map[string]string{"other.yaml": "x: 2\n"}, "someone else")

	_, err := cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir, MaxAttempts: 1})
	require.ErrorIs(t, err, git.ErrPushConflict)
	require.Equal(t, theirs, srv.BranchHead(t, "app", "main"), "the branch is as the other writer left it")
	require.Equal(t, "tag: v1\n", srv.Show(t, "app", "main", "stage.yaml"))

	res, err := cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir})
	require.NoError(t, err)
	require.True(t, res.Pushed)
	require.True(t, res.Rebased)
	require.Equal(t, "tag: v2\n", srv.Show(t, "app", "main", "stage.yaml"))
	require.Equal(t, "x: 2\n", srv.Show(t, "app", "main", "other.yaml"))
}

// The idempotency trailer holds without the fetch: a commit of this
// Promotion that reached the branch without the mirror seeing it (a
// controller that crashed after pushing, restarted with the mirror as it
// was) makes the push not a fast-forward, and the fetch that follows finds
// it, so nothing is pushed twice.
func TestPushWorkTreeFindsUnseenTrailerAfterRefusal(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"stage.yaml": "tag: v1\n"}, "init")
	cache, _ := newCache(t, git.Options{})
	trailer := [2]string{"Kargo-Promotion", "uid-1"}
	dir := pushnofetchWorkTree(t, cache, url, [][2]string{trailer})
	earlier := srv.Commit(t, "app", "main", map[string]string{"stage.yaml": "tag: v2\n"}, "promote v2\n\nKargo-Promotion: uid-1")
	checked := 0
	res, err := cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir, IdempotencyTrailer: trailer,
		Check: func(context.Context, []git.TrailedCommit) error { checked++; return nil }})
	require.NoError(t, err)
	require.True(t, res.AlreadyDone)
	require.False(t, res.Pushed)
	require.Equal(t, earlier, res.Commit)
	require.Equal(t, earlier, srv.BranchHead(t, "app", "main"), "nothing was pushed twice")
	require.Equal(t, 2, res.Attempts)
	require.Equal(t, 1, checked, "the Check ran before the first attempt; the trailer ended the second")
}

// The branch check holds without the fetch: a commit of another writer
// that the mirror has not seen refuses the first attempt, and the Check
// sees it before the second, so the push never lands over it.
func TestPushWorkTreeChecksUnseenWriterAfterRefusal(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"stage.yaml": "tag: v1\n"}, "init")
	cache, _ := newCache(t, git.Options{})
	dir := pushnofetchWorkTree(t, cache, url, [][2]string{{"Kargo-Stage", "demo/test"}})
	intruder := srv.Commit(t, "app", "main", map[string]string{"other.yaml": "x\n"}, "other\n\nKargo-Stage: demo/other")
	errClaimed := errors.New("another Stage writes this branch")
	var seen []string
	_, err := cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir, Check: func(_ context.Context, recent []git.TrailedCommit) error {
		if len(recent) > 0 {
			seen = append(seen, recent[0].Trailers["Kargo-Stage"])
			if recent[0].Trailers["Kargo-Stage"] == "demo/other" {
				return errClaimed
			}
		}
		return nil
	}})
	require.ErrorIs(t, err, errClaimed)
	require.Equal(t, []string{"", "demo/other"}, seen)
	require.Equal(t, intruder, srv.BranchHead(t, "app", "main"), "the branch is left as the other writer left it")
}

// A forced push fetches first: it would replace commits the mirror has not
// seen, which the host cannot refuse for it.
func TestPushWorkTreeForcedFetchesFirst(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"stage.yaml": "tag: v1\n"}, "init")
	cache, _ := newCache(t, git.Options{})
	trailer := [2]string{"Kargo-Promotion", "uid-1"}
	dir := pushnofetchWorkTree(t, cache, url, [][2]string{trailer})
	earlier := srv.Commit(t, "app", "main", map[string]string{"stage.yaml": "tag: v2\n"}, "promote v2\n\nKargo-Promotion: uid-1")
	res, err := cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir, Force: true, IdempotencyTrailer: trailer})
	require.NoError(t, err)
	require.True(t, res.AlreadyDone, "the forced push saw the commit of this Promotion and did not replace it")
	require.Equal(t, earlier, srv.BranchHead(t, "app", "main"))
}

// With CheckoutMaxAge, a Checkout right after a discovery uses the mirror
// as the discovery left it: the Promotion's only requests are its push. A
// refresh request, or the mirror growing older than CheckoutMaxAge, makes
// the next Checkout fetch again; a branch that moved meanwhile is still
// pushed to correctly, on top of the other writer's commit.
func TestCheckoutWithoutFetchWhenMirrorIsCurrent(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"stage.yaml": "tag: v1\n", "other.yaml": "x: 1\n"}, "init")
	cache, clk := newCache(t, git.Options{CheckoutMaxAge: time.Minute})
	_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}, nil, 1)
	require.NoError(t, err)

	srv.ResetCounts()
	dir := pushnofetchWorkTree(t, cache, url, nil)
	require.Equal(t, 0, srv.Counts("app").LsRefs, "the checkout made no listing")
	require.Equal(t, 1, srv.Counts("app").Fetches, "only the files' contents, which a discovery does not fetch")
	res, err := cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir})
	require.NoError(t, err)
	require.True(t, res.Pushed)

	// The next Promotion starts from the commit the last one pushed,
	// whose files the mirror has.
	srv.ResetCounts()
	dir = filepath.Join(t.TempDir(), "out")
	_, err = cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Owner: "demo", Checkouts: []git.Checkout{{Dir: dir, Branch: "main"}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stage.yaml"), []byte("tag: v2b\n"), 0o644))
	_, _, err = cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{Dir: dir, Message: "promote v2b"})
	require.NoError(t, err)
	res, err = cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir})
	require.NoError(t, err)
	require.True(t, res.Pushed)
	require.Equal(t, 2, srv.Requests("app"), "a Promotion into a current mirror costs its push alone")

	// Refresh requested: the next Checkout fetches.
	srv.ResetCounts()
	cache.InvalidateBefore(url, clk.Now())
	_, err = cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Checkouts: []git.Checkout{{Dir: filepath.Join(t.TempDir(), "out"), Branch: "main"}}})
	require.NoError(t, err)
	require.Equal(t, 1, srv.Counts("app").LsRefs)

	// Older than CheckoutMaxAge: fetches.
	clk.Advance(time.Minute)
	srv.ResetCounts()
	_, err = cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Checkouts: []git.Checkout{{Dir: filepath.Join(t.TempDir(), "out"), Branch: "main"}}})
	require.NoError(t, err)
	require.Equal(t, 1, srv.Counts("app").LsRefs)

	// Current but stale: another writer pushed since the last fetch. The
	// checkout starts from the old head, and the push lands on top of the
	// other writer's commit, keeping it.
	theirs := srv.Commit(t, "app", "main", map[string]string{"other.yaml": "x: 2\n"}, "someone else")
	dir = filepath.Join(t.TempDir(), "out")
	trees, err := cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Owner: "demo", Checkouts: []git.Checkout{{Dir: dir, Branch: "main"}}})
	require.NoError(t, err)
	require.NotEqual(t, theirs, trees[0].Head)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stage.yaml"), []byte("tag: v3\n"), 0o644))
	_, _, err = cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{Dir: dir, Message: "promote v3"})
	require.NoError(t, err)
	res, err = cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir})
	require.NoError(t, err)
	require.True(t, res.Rebased)
	log := srv.Log(t, "app", "main")
	require.Equal(t, []string{theirs}, log[0].Parents)
	require.Equal(t, "tag: v3\n", srv.Show(t, "app", "main", "stage.yaml"))
	require.Equal(t, "x: 2\n", srv.Show(t, "app", "main", "other.yaml"))

	// A branch this process pushed is known as of the push: after the
	// fetch has grown too old, a checkout of that branch still makes no
	// listing, one of the default branch (not named) does.
	clk.Advance(2 * time.Minute)
	dir = pushnofetchWorkTree(t, cache, url, nil)
	clk.Advance(50 * time.Second)
	_, err = cache.PushWorkTree(ctx(t), git.PushRequest{Dir: dir})
	require.NoError(t, err)
	clk.Advance(20 * time.Second)
	srv.ResetCounts()
	_, err = cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Checkouts: []git.Checkout{{Dir: filepath.Join(t.TempDir(), "out"), Branch: "main"}}})
	require.NoError(t, err)
	require.Equal(t, 0, srv.Counts("app").LsRefs, "main was pushed 20 s ago")
	_, err = cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Checkouts: []git.Checkout{{Dir: filepath.Join(t.TempDir(), "out")}}})
	require.NoError(t, err)
	require.Equal(t, 1, srv.Counts("app").LsRefs, "the last fetch is 70 s old")
}
