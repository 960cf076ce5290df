package git_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

// setFiles is an Apply that writes files (path to content) and reports one
// line per file whose content it changed, as a promotion step would.
func setFiles(files map[string]string) func(context.Context, string) ([]string, error) {
	return func(_ context.Context, dir string) ([]string, error) {
		paths := make([]string, 0, len(files))
		for p := range files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		var lines []string
		for _, p := range paths {
			path, err := git.ResolveInRepo(dir, p)
			if err != nil {
				return nil, err
			}
			if old, err := os.ReadFile(path); err == nil && string(old) == files[p] {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, []byte(files[p]), 0o644); err != nil {
				return nil, err
			}
			lines = append(lines, fmt.Sprintf("set %s to %q", p, files[p]))
		}
		return lines, nil
	}
}

// counted wraps an Apply and counts its calls.
func counted(n *atomic.Int32, apply func(context.Context, string) ([]string, error)) func(context.Context, string) ([]string, error) {
	return func(ctx context.Context, dir string) ([]string, error) {
		n.Add(1)
		return apply(ctx, dir)
	}
}

func mustCommit(t testing.TB, c *git.Cache, req git.CommitRequest) git.CommitResult {
	t.Helper()
	res, err := c.Commit(ctx(t), req)
	require.NoError(t, err)
	return res
}

func TestCommitInPlace(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	base := srv.Commit(t, "app", "main", map[string]string{"a.txt": "1", "b.txt": "keep"}, "seed")
	cache, clk := newCache(t, git.Options{})
	var calls atomic.Int32

	res := mustCommit(t, cache, git.CommitRequest{
		RepoURL:            url,
		WriteBranch:        "main",
		Apply:              counted(&calls, setFiles(map[string]string{"a.txt": "2", "new/c.txt": "3"})),
		Subject:            "Promote f1 to test",
		Trailers:           [][2]string{{"Kargo-Freight", "f1"}, {"Kargo-Freight-Alias", "tidy-cat"}},
		IdempotencyTrailer: [2]string{"Kargo-Promotion", "uid-1"},
	})
	require.Equal(t, git.CommitResult{Commit: srv.BranchHead(t, "app", "main"), Changed: true, Attempts: 1}, res)
	require.EqualValues(t, 1, calls.Load())

	log := srv.Log(t, "app", "main")
	require.Len(t, log, 2)
	got := log[0]
	require.Equal(t, []string{base}, got.Parents)
	require.Equal(t, []string{"a.txt", "new/c.txt"}, got.Files)
	require.Equal(t, "Promote f1 to test\n\n"+
		"- set a.txt to \"2\"\n- set new/c.txt to \"3\"\n\n"+
		"Kargo-Freight: f1\nKargo-Freight-Alias: tidy-cat\nKargo-Promotion: uid-1\n", got.Message)
	require.Equal(t, "Kargo <kargo@localhost>", got.Author)
	require.Equal(t, "Kargo <kargo@localhost>", got.Committer)
	require.Equal(t, "uid-1", strings.TrimSpace(srv.Git(t, "app", "", "log", "-1", "--format=%(trailers:key=Kargo-Promotion,valueonly)", "main")),
		"git parses the trailers")
	require.Equal(t, fmt.Sprint(clk.Now().Unix()), strings.TrimSpace(srv.Git(t, "app", "", "log", "-1", "--format=%ct", "main")))
	require.Equal(t, "2", srv.Show(t, "app", "main", "a.txt"))
	require.Equal(t, "keep", srv.Show(t, "app", "main", "b.txt"))

	t.Run("the same edits on the same content make the same commit", func(t *testing.T) {
		other, _ := newCache(t, git.Options{})
		srv.Git(t, "app", "", "branch", "replay", base)
		replay := mustCommit(t, other, git.CommitRequest{
			RepoURL: url, WriteBranch: "replay",
			Apply:              setFiles(map[string]string{"a.txt": "2", "new/c.txt": "3"}),
			Subject:            "Promote f1 to test",
			Trailers:           [][2]string{{"Kargo-Freight", "f1"}, {"Kargo-Freight-Alias", "tidy-cat"}},
			IdempotencyTrailer: [2]string{"Kargo-Promotion", "uid-1"},
		})
		require.Equal(t, res.Commit, replay.Commit)
	})

	t.Run("author, and edits on top of the last commit", func(t *testing.T) {
		res := mustCommit(t, cache, git.CommitRequest{
			RepoURL: url, ReadRef: "main", WriteBranch: "main",
			Apply:   setFiles(map[string]string{"b.txt": "changed"}),
			Subject: "second", AuthorName: "Promoter", AuthorEmail: "promoter@example.com",
		})
		log := srv.Log(t, "app", "main")
		require.Equal(t, res.Commit, log[0].SHA)
		require.Equal(t, "Promoter <promoter@example.com>", log[0].Author)
		require.Equal(t, "second\n\n- set b.txt to \"changed\"\n", log[0].Message)
		require.Equal(t, "2", srv.Show(t, "app", "main", "a.txt"), "the earlier edit is kept")
	})

	t.Run("nothing to change commits nothing", func(t *testing.T) {
		head := srv.BranchHead(t, "app", "main")
		pushes := srv.Counts("app").Pushes
		calls.Store(0)
		res := mustCommit(t, cache, git.CommitRequest{
			RepoURL: url, WriteBranch: "main", Subject: "again",
			Apply: counted(&calls, setFiles(map[string]string{"a.txt": "2"})),
		})
		require.Equal(t, git.CommitResult{Commit: head, Attempts: 1}, res)
		require.EqualValues(t, 1, calls.Load())
		require.Equal(t, head, srv.BranchHead(t, "app", "main"))
		require.Equal(t, pushes, srv.Counts("app").Pushes, "nothing is pushed")
	})
}

func TestCommitStageBranch(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("gitops")
	main1 := srv.Commit(t, "gitops", "main", map[string]string{
		"README.md": "v1", ".gitignore": "*.log\n", "env/test/image.txt": "base",
	}, "seed")
	cache, _ := newCache(t, git.Options{})
	promote := func(t *testing.T, image string, check func(dir string)) git.CommitResult {
		t.Helper()
		return mustCommit(t, cache, git.CommitRequest{
			RepoURL: url, ReadRef: "main", WriteBranch: "stages/test", Subject: "Promote " + image,
			Apply: func(ctx context.Context, dir string) ([]string, error) {
				if check != nil {
					check(dir)
				}
				lines, err := setFiles(map[string]string{"env/test/image.txt": image})(ctx, dir)
				// Left behind on purpose: an ignored file is never committed
				// nor seen by the next edit.
				_ = os.WriteFile(filepath.Join(dir, "render.log"), []byte(image), 0o644)
				return lines, err
			},
		})
	}

	first := promote(t, "app:v1", nil)
	require.True(t, first.Changed)
	stage := srv.Log(t, "gitops", "stages/test")
	require.Equal(t, first.Commit, stage[0].SHA)
	require.Equal(t, []string{main1}, stage[0].Parents, "a new stage branch starts at main's commit")
	require.Equal(t, []string{"env/test/image.txt"}, stage[0].Files)
	require.Equal(t, main1, srv.BranchHead(t, "gitops", "main"), "main is not touched")

	t.Run("later promotions render main's latest content on top of the stage branch", func(t *testing.T) {
		main2 := srv.Commit(t, "gitops", "main", map[string]string{"README.md": "v2", "docs/new.md": "new"}, "docs")
		res := promote(t, "app:v2", func(dir string) {
			data, err := os.ReadFile(filepath.Join(dir, "env/test/image.txt"))
			require.NoError(t, err)
			require.Equal(t, "base", string(data), "the edit reads main's content, not the stage's")
			require.NoFileExists(t, filepath.Join(dir, "render.log"), "nothing of the last edit is left")
			require.FileExists(t, filepath.Join(dir, "docs/new.md"))
		})
		require.True(t, res.Changed)
		stage := srv.Log(t, "gitops", "stages/test")
		require.Len(t, stage, 3)
		require.Equal(t, []string{first.Commit}, stage[0].Parents, "the stage branch is a linear history")
		require.Equal(t, "v2", srv.Show(t, "gitops", "stages/test", "README.md"))
		require.Equal(t, "app:v2", srv.Show(t, "gitops", "stages/test", "env/test/image.txt"))
		require.Equal(t, main2, srv.BranchHead(t, "gitops", "main"))
		out := srv.Git(t, "gitops", "", "ls-tree", "-r", "--name-only", "stages/test")
		require.NotContains(t, out, "render.log")
	})

	t.Run("promoting what is already there touches nothing", func(t *testing.T) {
		head := srv.BranchHead(t, "gitops", "stages/test")
		before := srv.Counts("gitops")
		res := promote(t, "app:v2", nil)
		require.Equal(t, git.CommitResult{Commit: head, Attempts: 1}, res)
		require.Equal(t, before.Pushes, srv.Counts("gitops").Pushes)
	})

	t.Run("a new branch with nothing to change starts at main's commit", func(t *testing.T) {
		res := mustCommit(t, cache, git.CommitRequest{
			RepoURL: url, ReadRef: "main", WriteBranch: "stages/prod", Subject: "noop",
			Apply: setFiles(map[string]string{"README.md": "v2"}),
		})
		main := srv.BranchHead(t, "gitops", "main")
		require.Equal(t, git.CommitResult{Commit: main, Attempts: 1}, res)
		require.Equal(t, main, srv.BranchHead(t, "gitops", "stages/prod"))
	})

	t.Run("empty ReadRef on a missing branch reads the default branch", func(t *testing.T) {
		res := mustCommit(t, cache, git.CommitRequest{
			RepoURL: url, WriteBranch: "stages/uat", Subject: "uat",
			Apply: setFiles(map[string]string{"env/uat/image.txt": "app:v1"}),
		})
		log := srv.Log(t, "gitops", "stages/uat")
		require.Equal(t, res.Commit, log[0].SHA)
		require.Equal(t, []string{srv.BranchHead(t, "gitops", "main")}, log[0].Parents)
	})

	t.Run("a commit SHA to read from", func(t *testing.T) {
		res := mustCommit(t, cache, git.CommitRequest{
			RepoURL: url, ReadRef: strings.ToUpper(main1), WriteBranch: "stages/old", Subject: "old",
			Apply: setFiles(map[string]string{"env/test/image.txt": "app:v0"}),
		})
		log := srv.Log(t, "gitops", "stages/old")
		require.Equal(t, []string{main1}, log[0].Parents)
		require.Equal(t, "v1", srv.Show(t, "gitops", res.Commit, "README.md"))

		// A commit on no branch is fetched by its SHA.
		tree := strings.TrimSpace(srv.Git(t, "gitops", "", "rev-parse", main1+"^{tree}"))
		dangling := strings.TrimSpace(srv.Git(t, "gitops", "dangling\n", "commit-tree", tree, "-p", main1))
		res = mustCommit(t, cache, git.CommitRequest{
			RepoURL: url, ReadRef: dangling, WriteBranch: "stages/dangling", Subject: "dangling",
			Apply: setFiles(map[string]string{"x.txt": "x"}),
		})
		require.Equal(t, []string{dangling}, srv.Log(t, "gitops", "stages/dangling")[0].Parents)

		_, err := cache.Commit(ctx(t), git.CommitRequest{
			RepoURL: url, ReadRef: strings.Repeat("ab", 20), WriteBranch: "stages/none", Subject: "none",
			Apply: setFiles(nil),
		})
		require.ErrorIs(t, err, sourceerr.ErrNotFound)
		require.ErrorContains(t, err, strings.Repeat("ab", 20))
	})

	t.Run("a branch to read from that does not exist", func(t *testing.T) {
		_, err := cache.Commit(ctx(t), git.CommitRequest{
			RepoURL: url, ReadRef: "release/9", WriteBranch: "stages/test", Subject: "x", Apply: setFiles(nil),
		})
		require.ErrorIs(t, err, sourceerr.ErrNotFound)
		require.ErrorContains(t, err, `"release/9"`)
	})
}

func TestCommitIdempotencyTrailer(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "0"}, "seed")
	dir := t.TempDir()
	cache := git.NewCache(dir, options(git.Options{}))
	req := func(uid, content string, calls *atomic.Int32) git.CommitRequest {
		return git.CommitRequest{
			RepoURL: url, ReadRef: "main", WriteBranch: "stages/test", Subject: "promote " + uid,
			Apply:              counted(calls, setFiles(map[string]string{"a.txt": content})),
			IdempotencyTrailer: [2]string{"Kargo-Promotion", uid},
		}
	}
	var calls atomic.Int32
	first := mustCommit(t, cache, req("uid-1", "1", &calls))
	require.True(t, first.Changed)

	tests := []struct {
		name  string
		cache func() *git.Cache
	}{
		{name: "the same controller retries", cache: func() *git.Cache { return cache }},
		{name: "a restarted controller retries", cache: func() *git.Cache { return git.NewCache(dir, options(git.Options{})) }},
		{name: "a controller with an empty cache retries", cache: func() *git.Cache { return git.NewCache(t.TempDir(), options(git.Options{})) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls.Store(0)
			pushes := srv.Counts("app").Pushes
			// Content that differs from what the first attempt wrote: the
			// trailer, not the content, decides.
			res := mustCommit(t, tt.cache(), req("uid-1", "other", &calls))
			require.Equal(t, git.CommitResult{Commit: first.Commit, AlreadyDone: true, Attempts: 1}, res)
			require.Zero(t, calls.Load(), "nothing is edited")
			require.Equal(t, pushes, srv.Counts("app").Pushes)
		})
	}

	t.Run("found below later commits", func(t *testing.T) {
		second := mustCommit(t, cache, req("uid-2", "2", &calls))
		require.True(t, second.Changed)
		res := mustCommit(t, cache, req("uid-1", "1", &calls))
		require.Equal(t, git.CommitResult{Commit: first.Commit, AlreadyDone: true, Attempts: 1}, res)
		require.Len(t, srv.Log(t, "app", "stages/test"), 3)
	})
}

func TestCommitPushRace(t *testing.T) {
	tests := []struct {
		name      string
		readRef   string
		branch    string
		wantFiles map[string]string
	}{
		{name: "in place", branch: "main", wantFiles: map[string]string{"ours.txt": "ours", "theirs.txt": "theirs"}},
		{name: "stage branch", readRef: "main", branch: "stages/test", wantFiles: map[string]string{"ours.txt": "ours", "main.txt": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			url := srv.CreateRepo("app")
			srv.Commit(t, "app", "main", map[string]string{"main.txt": "1"}, "seed")
			cache, _ := newCache(t, git.Options{})
			if tt.branch != "main" {
				mustCommit(t, cache, git.CommitRequest{RepoURL: url, ReadRef: "main", WriteBranch: tt.branch, Subject: "create", Apply: setFiles(map[string]string{"ours.txt": "first"})})
			}
			// The hook runs in the server's goroutine.
			theirsCh := make(chan string, 1)
			srv.BeforeNextPush("app", func() {
				theirsCh <- srv.Commit(t, "app", tt.branch, map[string]string{"theirs.txt": "theirs"}, "someone else")
			})
			var calls atomic.Int32
			res := mustCommit(t, cache, git.CommitRequest{
				RepoURL: url, ReadRef: tt.readRef, WriteBranch: tt.branch, Subject: "ours",
				Apply: counted(&calls, setFiles(map[string]string{"ours.txt": "ours"})),
			})
			require.True(t, res.Changed)
			require.Equal(t, 2, res.Attempts)
			require.EqualValues(t, 2, calls.Load(), "the edit runs again on fresh content")
			theirs := <-theirsCh
			log := srv.Log(t, "app", tt.branch)
			require.Equal(t, res.Commit, log[0].SHA)
			require.Equal(t, []string{theirs}, log[0].Parents, "our commit lands on top of theirs")
			for path, content := range tt.wantFiles {
				require.Equal(t, content, srv.Show(t, "app", tt.branch, path))
			}
		})
	}
}

func TestCommitPersistentConflict(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "0"}, "seed")
	cache, _ := newCache(t, git.Options{})
	n := 0
	srv.BeforeEachPush("app", func() {
		n++
		srv.Commit(t, "app", "main", map[string]string{"busy.txt": fmt.Sprint(n)}, "busy")
	})
	for _, maxAttempts := range []int{0, 3} {
		want := maxAttempts
		if want == 0 {
			want = 5
		}
		before := srv.Counts("app").Pushes
		res, err := cache.Commit(ctx(t), git.CommitRequest{
			RepoURL: url, WriteBranch: "main", Subject: "ours", MaxAttempts: maxAttempts,
			Apply: setFiles(map[string]string{"a.txt": "ours"}),
		})
		require.ErrorIs(t, err, git.ErrPushConflict)
		require.ErrorContains(t, err, fmt.Sprintf("rejected %d times", want))
		require.ErrorContains(t, err, url)
		require.Equal(t, want, res.Attempts)
		require.Equal(t, before+want, srv.Counts("app").Pushes)
	}
	for _, c := range srv.Log(t, "app", "main") {
		require.NotEqual(t, "ours", c.Subject)
	}
	srv.BeforeEachPush("app", nil)
	res := mustCommit(t, cache, git.CommitRequest{RepoURL: url, WriteBranch: "main", Subject: "ours", Apply: setFiles(map[string]string{"a.txt": "ours"})})
	require.Equal(t, 1, res.Attempts)
}

func TestCommitWriteBranchDeleted(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "0"}, "seed")
	cache, _ := newCache(t, git.Options{})
	req := func(image string) git.CommitRequest {
		return git.CommitRequest{RepoURL: url, ReadRef: "main", WriteBranch: "stages/test", Subject: image, Apply: setFiles(map[string]string{"image.txt": image})}
	}
	mustCommit(t, cache, req("v1"))

	t.Run("between promotions", func(t *testing.T) {
		srv.DeleteBranch(t, "app", "stages/test")
		main := srv.Commit(t, "app", "main", map[string]string{"a.txt": "1"}, "main moved")
		res := mustCommit(t, cache, req("v2"))
		require.Equal(t, 1, res.Attempts)
		log := srv.Log(t, "app", "stages/test")
		require.Equal(t, []string{main}, log[0].Parents, "recreated from main")
		require.Equal(t, "1", srv.Show(t, "app", "stages/test", "a.txt"))
	})

	t.Run("between fetch and push", func(t *testing.T) {
		srv.BeforeNextPush("app", func() { srv.DeleteBranch(t, "app", "stages/test") })
		res := mustCommit(t, cache, req("v3"))
		require.Equal(t, 2, res.Attempts)
		log := srv.Log(t, "app", "stages/test")
		require.Len(t, log, 3)
		require.Equal(t, []string{srv.BranchHead(t, "app", "main")}, log[0].Parents)
		require.Equal(t, "v3", srv.Show(t, "app", "stages/test", "image.txt"))
	})

	t.Run("an in-place branch that is gone is not found", func(t *testing.T) {
		_, err := cache.Commit(ctx(t), git.CommitRequest{RepoURL: url, ReadRef: "gone", WriteBranch: "gone", Subject: "x", Apply: setFiles(nil)})
		require.ErrorIs(t, err, sourceerr.ErrNotFound)
		require.ErrorContains(t, err, `"gone" does not exist`)
	})
}

func TestCommitBasicAuth(t *testing.T) {
	const password = "s3cr3t-t0ken-value"
	srv := newServer(t, gitserver.WithBasicAuth("robot", password))
	url := srv.CreateRepo("private")
	srv.Commit(t, "private", "main", map[string]string{"a.txt": "0"}, "seed")
	realGit, err := exec.LookPath("git")
	require.NoError(t, err)
	wrapDir := t.TempDir()
	argv := filepath.Join(wrapDir, "argv.log")
	wrapper := filepath.Join(wrapDir, "git")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> '%s'\nexec '%s' \"$@\"\n", argv, realGit)
	require.NoError(t, os.WriteFile(wrapper, []byte(script), 0o700))
	dir := t.TempDir()
	cache := git.NewCache(dir, options(git.Options{GitBinary: wrapper}))
	req := func(creds *credentials.Credentials) git.CommitRequest {
		return git.CommitRequest{RepoURL: url, Creds: creds, WriteBranch: "main", Subject: "x", Apply: setFiles(map[string]string{"a.txt": "1"})}
	}

	tests := []struct {
		name     string
		creds    *credentials.Credentials
		wantHint string
	}{
		{name: "wrong password", creds: &credentials.Credentials{Username: "robot", Password: "wrong-password"}, wantHint: "check the username and password"},
		{name: "no credentials", wantHint: "create a git credential Secret for " + url},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cache.Commit(ctx(t), req(tt.creds))
			require.ErrorIs(t, err, sourceerr.ErrUnauthorized)
			require.ErrorContains(t, err, tt.wantHint)
			require.NotContains(t, err.Error(), "wrong-password")
			require.NotContains(t, err.Error(), password)
		})
	}

	t.Run("right password", func(t *testing.T) {
		res := mustCommit(t, cache, req(&credentials.Credentials{Username: "robot", Password: password}))
		require.True(t, res.Changed)
		require.Equal(t, res.Commit, srv.BranchHead(t, "private", "main"))
	})

	t.Run("a password in repoURL is refused and kept out of errors", func(t *testing.T) {
		before := srv.BranchHead(t, "private", "main")
		withUser := strings.Replace(url, "http://", "http://robot:"+password+"@", 1)
		_, err := cache.Commit(ctx(t), git.CommitRequest{RepoURL: withUser, WriteBranch: "main", Subject: "y", Apply: setFiles(map[string]string{"a.txt": "2"})})
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
		require.ErrorContains(t, err, "git credential Secret")
		require.NotContains(t, err.Error(), password)
		require.NotContains(t, err.Error(), "robot")
		require.Equal(t, before, srv.BranchHead(t, "private", "main"), "nothing was pushed")
	})

	t.Run("credentials never appear in git's arguments", func(t *testing.T) {
		logged, err := os.ReadFile(argv)
		require.NoError(t, err)
		require.Contains(t, string(logged), "push --porcelain")
		require.NotContains(t, string(logged), password)
		require.NotContains(t, string(logged), base64.StdEncoding.EncodeToString([]byte("robot:"+password)))
	})

	t.Run("credentials are never written to disk", func(t *testing.T) {
		token := base64.StdEncoding.EncodeToString([]byte("robot:" + password))
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			require.NoError(t, err)
			if !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NotContains(t, string(data), password, path)
			require.NotContains(t, string(data), token, path)
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("plain http to another host is refused before any request", func(t *testing.T) {
		_, err := cache.Commit(ctx(t), git.CommitRequest{
			RepoURL: "http://git.example.com/app.git", Creds: &credentials.Credentials{Username: "robot", Password: "pw"},
			WriteBranch: "main", Subject: "x", Apply: setFiles(nil),
		})
		require.ErrorIs(t, err, sourceerr.ErrInsecureCredentials)
	})
}

func TestCommitReusesMirror(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "0", "b.txt": "0"}, "seed")
	cache, _ := newCache(t, git.Options{})
	sub := kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url), Branch: "stages/test"}
	promote := func(t *testing.T, image string) git.CommitResult {
		t.Helper()
		return mustCommit(t, cache, git.CommitRequest{RepoURL: url, ReadRef: "main", WriteBranch: "stages/test", Subject: image, Apply: setFiles(map[string]string{"image.txt": image})})
	}
	// Discovery clones the mirror that promotions then share.
	_, err := discover(t, cache, kargoapi.GitSubscription{RepoURL: kargoapi.GitRepoURL(url)}, nil, 1)
	require.NoError(t, err)
	promote(t, "v1")

	t.Run("a second promotion lists refs once, fetches nothing and pushes once", func(t *testing.T) {
		before := srv.Counts("app")
		res := promote(t, "v2")
		after := srv.Counts("app")
		require.True(t, res.Changed)
		require.Equal(t, 1, after.InfoRefs-before.InfoRefs)
		require.Equal(t, 1, after.LsRefs-before.LsRefs)
		require.Equal(t, 0, after.Fetches-before.Fetches, "no clone and no fetch")
		require.Equal(t, 1, after.Pushes-before.Pushes)

		got := mustDiscover(t, cache, sub, nil, 1)
		require.Equal(t, []string{res.Commit}, ids(got), "discovery sees the pushed commit")
		require.Equal(t, after, srv.Counts("app"), "without a request")
	})

	t.Run("new content on main costs one fetch of history and one of file contents", func(t *testing.T) {
		srv.Commit(t, "app", "main", map[string]string{"b.txt": "1"}, "main moved")
		before := srv.Counts("app")
		promote(t, "v3")
		after := srv.Counts("app")
		require.Equal(t, 2, after.Fetches-before.Fetches)
		require.Equal(t, "1", srv.Show(t, "app", "stages/test", "b.txt"))
	})

	t.Run("a stage branch moved by someone else costs one fetch; the push fetches nothing", func(t *testing.T) {
		srv.Commit(t, "app", "stages/test", map[string]string{"image.txt": strings.Repeat("hotfix\n", 1000)}, "hotfix")
		before := srv.Counts("app")
		res := promote(t, "v4")
		after := srv.Counts("app")
		require.True(t, res.Changed)
		require.Equal(t, 1, after.Fetches-before.Fetches)
		require.Equal(t, "v4", srv.Show(t, "app", "stages/test", "image.txt"))
	})
}

func TestCommitConcurrent(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"seed.txt": "0"}, "seed")
	cache, _ := newCache(t, git.Options{})
	const n = 50
	results := make([]git.CommitResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			results[i], errs[i] = cache.Commit(c, git.CommitRequest{
				RepoURL: url, WriteBranch: "main", Subject: fmt.Sprintf("promotion %d", i),
				Apply:              setFiles(map[string]string{fmt.Sprintf("apps/app%d.txt", i): fmt.Sprint(i)}),
				IdempotencyTrailer: [2]string{"Kargo-Promotion", fmt.Sprintf("uid-%d", i)},
			})
		}()
	}
	wg.Wait()
	log := srv.Log(t, "app", "main")
	require.Len(t, log, n+1)
	inLog := map[string]bool{}
	for _, c := range log {
		inLog[c.SHA] = true
	}
	for i := range n {
		require.NoError(t, errs[i], "promotion %d", i)
		require.True(t, results[i].Changed, "promotion %d", i)
		require.True(t, inLog[results[i].Commit], "promotion %d's commit is on main", i)
		require.Equal(t, fmt.Sprint(i), srv.Show(t, "app", "main", fmt.Sprintf("apps/app%d.txt", i)))
	}
	t.Logf("%d promotions: %+v", n, srv.Counts("app"))
}

func TestCommitApplyFailure(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	head := srv.Commit(t, "app", "main", map[string]string{"a.txt": "0"}, "seed")
	cache, _ := newCache(t, git.Options{})
	_, err := cache.Commit(ctx(t), git.CommitRequest{
		RepoURL: url, WriteBranch: "main", Subject: "x",
		Apply: func(_ context.Context, dir string) ([]string, error) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("half"), 0o644))
			require.NoError(t, os.Mkdir(filepath.Join(dir, "locked"), 0o500))
			return nil, fmt.Errorf("render values: %w", os.ErrInvalid)
		},
	})
	require.ErrorIs(t, err, os.ErrInvalid)
	require.ErrorContains(t, err, `commit to branch "main" of `+url+": edit files: render values")
	require.Equal(t, head, srv.BranchHead(t, "app", "main"))

	res := mustCommit(t, cache, git.CommitRequest{
		RepoURL: url, WriteBranch: "main", Subject: "y",
		Apply: func(ctx context.Context, dir string) ([]string, error) {
			data, err := os.ReadFile(filepath.Join(dir, "a.txt"))
			require.NoError(t, err)
			require.Equal(t, "0", string(data), "a failed edit leaves nothing behind")
			require.NoDirExists(t, filepath.Join(dir, "locked"))
			return setFiles(map[string]string{"a.txt": "1"})(ctx, dir)
		},
	})
	require.True(t, res.Changed)
}

func TestCommitInvalidRequest(t *testing.T) {
	srv := newServer(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "0"}, "seed")
	cache, _ := newCache(t, git.Options{})
	valid := func() git.CommitRequest {
		return git.CommitRequest{RepoURL: url, WriteBranch: "main", Subject: "x", Apply: setFiles(nil)}
	}
	tests := []struct {
		name    string
		edit    func(*git.CommitRequest)
		wantMsg string
	}{
		{name: "bad branch", edit: func(r *git.CommitRequest) { r.WriteBranch = "stages/../x" }, wantMsg: `"stages/../x" is not a valid branch name`},
		{name: "no branch", edit: func(r *git.CommitRequest) { r.WriteBranch = "" }, wantMsg: "branch to write"},
		{name: "bad read branch", edit: func(r *git.CommitRequest) { r.ReadRef = "a b" }, wantMsg: "branch to read from"},
		{name: "no Apply", edit: func(r *git.CommitRequest) { r.Apply = nil }, wantMsg: "Apply"},
		{name: "no subject", edit: func(r *git.CommitRequest) { r.Subject = " \n" }, wantMsg: "subject is empty"},
		{name: "bad trailer key", edit: func(r *git.CommitRequest) { r.Trailers = [][2]string{{"Kargo Freight", "x"}} }, wantMsg: `trailer key "Kargo Freight"`},
		{name: "multi-line trailer value", edit: func(r *git.CommitRequest) { r.IdempotencyTrailer = [2]string{"Kargo-Promotion", "a\nb"} }, wantMsg: "one line"},
		{name: "author with brackets", edit: func(r *git.CommitRequest) { r.AuthorEmail = "<x>" }, wantMsg: "author"},
		{name: "file URL", edit: func(r *git.CommitRequest) { r.RepoURL = "file://" + srv.Dir("app") }, wantMsg: "file:// repositories are disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := valid()
			tt.edit(&req)
			_, err := cache.Commit(ctx(t), req)
			require.ErrorIs(t, err, git.ErrInvalidRequest)
			require.ErrorContains(t, err, tt.wantMsg)
		})
	}
	require.Equal(t, gitserver.Counts{}, srv.Counts("app"), "no request is made")
}

func TestResolveInRepo(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	mkdir := func(p string) { require.NoError(t, os.MkdirAll(filepath.Join(root, p), 0o755)) }
	link := func(target, p string) { require.NoError(t, os.Symlink(target, filepath.Join(root, p))) }
	mkdir("apps/app1")
	mkdir("shared/base")
	require.NoError(t, os.WriteFile(filepath.Join(root, "apps/app1/values.yaml"), nil, 0o644))
	link("/etc", "etc")
	link("../../shared", "apps/app1/shared")      // inside
	link("app1/values.yaml", "apps/current.yaml") // inside, to a file
	link("../..", "apps/app1/up")                 // to root: fine by itself
	mkdir("nested/a")
	link("../../..", "nested/a/b") // one level above root
	link(outside, "abs-outside")
	link(filepath.Join(root, "shared"), "abs-inside")
	link("loop2", "loop1")
	link("loop1", "loop2")
	realRoot, err := filepath.EvalSymlinks(root)
	require.NoError(t, err)

	tests := []struct {
		rel     string
		want    string // relative to root; empty when refused
		wantMsg string
	}{
		{rel: "apps/app1/values.yaml", want: "apps/app1/values.yaml"},
		{rel: "apps/app1/new/file.yaml", want: "apps/app1/new/file.yaml"},
		{rel: "./apps//app1/../app1/values.yaml", want: "apps/app1/values.yaml"},
		{rel: "apps/app1/shared/base/k.yaml", want: "shared/base/k.yaml"},
		{rel: "apps/current.yaml", want: "apps/app1/values.yaml"},
		{rel: "apps/app1/up/shared", want: "shared"},
		{rel: "abs-inside/base", want: "shared/base"},
		{rel: ".", want: ""},
		{rel: "..", wantMsg: `path ".." in repository: path leaves the repository: ".." climbs above the repository root`},
		{rel: "apps/../../x", wantMsg: `climbs above the repository root`},
		{rel: "/etc/passwd", wantMsg: `path "/etc/passwd" in repository: path leaves the repository: absolute paths are not allowed`},
		{rel: "etc/passwd", wantMsg: `symlink "etc" points to "/etc", outside the repository`},
		{rel: "etc", wantMsg: `symlink "etc" points to "/etc"`},
		{rel: "nested/a/b/x", wantMsg: `symlink "nested/a/b" points to "../../..", outside the repository`},
		{rel: "apps/app1/up/..", wantMsg: `symlink "apps/app1/up" points to "../.."`},
		{rel: "abs-outside/x", wantMsg: `symlink "abs-outside" points to`},
		{rel: "loop1", wantMsg: "too many symlinks"},
		{rel: "", wantMsg: "the path is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			got, err := git.ResolveInRepo(root, tt.rel)
			if tt.wantMsg != "" {
				require.Error(t, err)
				require.ErrorContains(t, err, tt.wantMsg)
				if tt.wantMsg != "too many symlinks" {
					require.ErrorIs(t, err, git.ErrUnsafePath)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, filepath.Join(realRoot, tt.want), got)
		})
	}
}

func TestCommitTLS(t *testing.T) {
	srv := newServer(t, gitserver.WithTLS())
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "0"}, "seed")
	req := git.CommitRequest{RepoURL: url, WriteBranch: "main", Subject: "x", Apply: setFiles(map[string]string{"a.txt": "1"})}

	untrusted, _ := newCache(t, git.Options{})
	_, err := untrusted.Commit(ctx(t), req)
	require.ErrorIs(t, err, sourceerr.ErrUnreachable)
	require.ErrorContains(t, err, "insecureSkipTLSVerify")

	trusted, _ := newCache(t, git.Options{CAFile: srv.CAFile()})
	res := mustCommit(t, trusted, req)
	require.True(t, res.Changed)
	require.Equal(t, "1", srv.Show(t, "app", "main", "a.txt"))

	req.InsecureSkipTLSVerify = true
	req.Apply = setFiles(map[string]string{"a.txt": "2"})
	res = mustCommit(t, untrusted, req)
	require.True(t, res.Changed)
}
