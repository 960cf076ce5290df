package git_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/git"
)

// treepoolFiles lists the files of the work tree at dir (without .git) with
// their contents.
func treepoolFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if rel == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	}))
	return files
}

// treepoolInode is the identity of the file at path, which a kept work tree
// carries over to the next checkout when the file did not change.
func treepoolInode(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi
}

// treepoolCheckout checks main of url out into dir for owner.
func treepoolCheckout(t *testing.T, cache *git.Cache, url, owner, dir string) git.WorkTree {
	t.Helper()
	trees, err := cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Owner: owner, Checkouts: []git.Checkout{{Dir: dir, Branch: "main"}}})
	require.NoError(t, err)
	return trees[0]
}

var treepoolLayout = map[string]string{
	".gitignore":        "*.tmp\n",
	"stages/test/a.yml": "a: 1\n",
	"stages/test/b.yml": "b: 1\n",
	"apps/one.yml":      "one\n",
	"apps/two.yml":      "two\n",
}

// A Promotion's work tree is kept when its work directory is given back,
// and the next Promotion of the same project gets it at the branch's new
// commit with exactly that commit's files: whatever a failed step changed,
// added (ignored files too), deleted or committed without pushing is gone,
// and files that did not change are not written again.
func TestCheckoutReusesKeptWorkTreeClean(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", treepoolLayout, "init")
	cache, _ := newCache(t, git.Options{})

	first := filepath.Join(t.TempDir(), "promo-1")
	wt := treepoolCheckout(t, cache, url, "demo", filepath.Join(first, "out"))
	unchanged := treepoolInode(t, filepath.Join(first, "out/apps/one.yml"))
	// A Promotion that failed half-way: an edit, a new file, an ignored
	// file, a deleted file, a tracked file turned into a directory, a
	// local commit that was never pushed.
	out := filepath.Join(first, "out")
	require.NoError(t, os.WriteFile(filepath.Join(out, "stages/test/a.yml"), []byte("a: edited\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(out, "extra.yml"), []byte("left behind\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(out, "cache.tmp"), []byte("ignored\n"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(out, "apps/two.yml")))
	require.NoError(t, os.Remove(filepath.Join(out, "stages/test/b.yml")))
	require.NoError(t, os.MkdirAll(filepath.Join(out, "stages/test/b.yml/x"), 0o755))
	local, changed, err := cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{Dir: out, Message: "never pushed"})
	require.NoError(t, err)
	require.True(t, changed)
	require.NoError(t, os.WriteFile(filepath.Join(out, "after-commit.yml"), []byte("dirty\n"), 0o644))
	cache.ReleaseWorkTrees(first)
	require.NoError(t, os.RemoveAll(first))

	next := srv.Commit(t, "app", "main", map[string]string{"stages/test/b.yml": "b: 2\n"}, "next")
	second := filepath.Join(t.TempDir(), "promo-2")
	wt2 := treepoolCheckout(t, cache, url, "demo", filepath.Join(second, "out"))
	require.Equal(t, next, wt2.Head)
	require.NotEqual(t, wt.Head, wt2.Head)
	want := map[string]string{}
	for k, v := range treepoolLayout {
		want[k] = v
	}
	want["stages/test/b.yml"] = "b: 2\n"
	require.Equal(t, want, treepoolFiles(t, filepath.Join(second, "out")))
	require.True(t, os.SameFile(unchanged, treepoolInode(t, filepath.Join(second, "out/apps/one.yml"))),
		"the kept work tree was reused: an unchanged file was not written again")

	// Nothing of the failed Promotion is left in the repository either:
	// its HEAD and branch are the new commit, and a commit of it is a
	// fresh one on top.
	reopened, err := cache.OpenWorkTree(ctx(t), filepath.Join(second, "out"))
	require.NoError(t, err)
	require.Equal(t, next, reopened.Head)
	require.Equal(t, "main", reopened.Branch)
	require.NotEqual(t, local, reopened.Head)
	_, changed, err = cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{Dir: filepath.Join(second, "out"), Message: "nothing"})
	require.NoError(t, err)
	require.False(t, changed, "the reused work tree holds exactly the branch's commit")
}

// Work trees are never shared between owners: a project's kept work tree,
// with what a Promotion left in it, is not given to another project's
// Promotion of the same repository, which gets a new work tree without any
// of its files or objects.
func TestCheckoutNeverReusesAnotherOwnersWorkTree(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", treepoolLayout, "init")
	cache, _ := newCache(t, git.Options{})

	alpha := filepath.Join(t.TempDir(), "alpha")
	treepoolCheckout(t, cache, url, "alpha", filepath.Join(alpha, "out"))
	kept := treepoolInode(t, filepath.Join(alpha, "out/apps/one.yml"))
	require.NoError(t, os.WriteFile(filepath.Join(alpha, "out/secret.yml"), []byte("alpha's secret\n"), 0o644))
	secret, _, err := cache.CommitWorkTree(ctx(t), git.WorkTreeCommitRequest{Dir: filepath.Join(alpha, "out"), Message: "alpha only"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(alpha, "out/secret.tmp"), []byte("alpha's ignored secret\n"), 0o644))
	cache.ReleaseWorkTrees(alpha)
	require.NoError(t, os.RemoveAll(alpha))

	beta := filepath.Join(t.TempDir(), "beta")
	treepoolCheckout(t, cache, url, "beta", filepath.Join(beta, "out"))
	require.False(t, os.SameFile(kept, treepoolInode(t, filepath.Join(beta, "out/apps/one.yml"))), "beta got a new work tree")
	require.Equal(t, treepoolLayout, treepoolFiles(t, filepath.Join(beta, "out")))
	cmd := exec.Command("git", "cat-file", "-e", secret)
	cmd.Dir = filepath.Join(beta, "out")
	cmd.Env = append(os.Environ(), "GIT_DIR="+filepath.Join(beta, "out", ".git"))
	require.Error(t, cmd.Run(), "alpha's unpushed commit is not in beta's repository")

	// Alpha's own next Promotion does get it back, clean.
	again := filepath.Join(t.TempDir(), "alpha-2")
	treepoolCheckout(t, cache, url, "alpha", filepath.Join(again, "out"))
	require.True(t, os.SameFile(kept, treepoolInode(t, filepath.Join(again, "out/apps/one.yml"))))
	require.Equal(t, treepoolLayout, treepoolFiles(t, filepath.Join(again, "out")))
}

// Two Promotions of one project into one repository at the same time never
// share a work tree: each gets its own, the kept one going to only one of
// them, and both are given back.
func TestCheckoutConcurrentPromotionsGetTheirOwnWorkTrees(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", treepoolLayout, "init")
	cache, _ := newCache(t, git.Options{})
	warm := filepath.Join(t.TempDir(), "warm")
	treepoolCheckout(t, cache, url, "demo", filepath.Join(warm, "out"))
	kept := treepoolInode(t, filepath.Join(warm, "out/apps/one.yml"))
	cache.ReleaseWorkTrees(warm)

	const n = 4
	dirs := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		dirs[i] = filepath.Join(t.TempDir(), "promo", "out")
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Owner: "demo", Checkouts: []git.Checkout{{Dir: dirs[i], Branch: "main"}}})
		}()
	}
	wg.Wait()
	reused := 0
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, treepoolLayout, treepoolFiles(t, dirs[i]))
		if os.SameFile(kept, treepoolInode(t, filepath.Join(dirs[i], "apps/one.yml"))) {
			reused++
		}
		// Each edits its own files.
		require.NoError(t, os.WriteFile(filepath.Join(dirs[i], "mine.yml"), []byte(dirs[i]), 0o644))
	}
	require.Equal(t, 1, reused, "the kept work tree went to exactly one Promotion")
	for i := range n {
		require.Equal(t, dirs[i], readFile(t, filepath.Join(dirs[i], "mine.yml")))
	}
}

// A directory that replaced a lent work tree (a step deleted it and wrote
// files of its own there) is not taken back into the pool.
func TestReleaseWorkTreesTakesBackOnlyWhatItLent(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", treepoolLayout, "init")
	cache, _ := newCache(t, git.Options{})
	first := filepath.Join(t.TempDir(), "promo-1")
	out := filepath.Join(first, "out")
	treepoolCheckout(t, cache, url, "demo", out)
	// Another work tree, made without the pool, at the same place.
	require.NoError(t, os.RemoveAll(out))
	_, err := cache.Checkout(ctx(t), git.CheckoutRequest{RepoURL: url, Checkouts: []git.Checkout{{Dir: out, Branch: "main"}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(out, "planted.yml"), []byte("x\n"), 0o644))
	cache.ReleaseWorkTrees(first)
	_, err = os.Stat(filepath.Join(out, "planted.yml"))
	require.NoError(t, err, "the directory was left where it was, for the caller to remove")

	second := filepath.Join(t.TempDir(), "promo-2", "out")
	treepoolCheckout(t, cache, url, "demo", second)
	names := make([]string, 0)
	for n := range treepoolFiles(t, second) {
		names = append(names, n)
	}
	sort.Strings(names)
	require.NotContains(t, strings.Join(names, ","), "planted")
}
