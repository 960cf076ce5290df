package gitserver_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/localsrc/gitserver"
)

// git runs the git CLI as a user would, isolated from the host's
// configuration.
func git(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=U", "GIT_AUTHOR_EMAIL=u@example.com", "GIT_COMMITTER_NAME=U", "GIT_COMMITTER_EMAIL=u@example.com")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(t, dir, args...)
	require.NoError(t, err, out)
	return out
}

func serve(t *testing.T, root string) *gitserver.Server {
	t.Helper()
	srv, err := gitserver.Serve(t.Context(), "127.0.0.1:0", root)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

func TestCloneCommitAndPushOverHTTP(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{"README.md": "demo\n", "stages/test/values.yaml": "image:\n  tag: 1.24.0\n"}
	require.NoError(t, gitserver.CreateRepo(root, "org/gitops", files, "Initial commit"))
	srv := serve(t, root)
	url := srv.RepoURL("org/gitops")
	require.Equal(t, srv.URL()+"/org/gitops.git", url)
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"))

	out := mustGit(t, "", "ls-remote", "--symref", url)
	require.Contains(t, out, "ref: refs/heads/main\tHEAD", "main is the default branch")

	clone := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", "clone", "--quiet", url, clone)
	got, err := os.ReadFile(filepath.Join(clone, "stages", "test", "values.yaml"))
	require.NoError(t, err)
	require.Equal(t, files["stages/test/values.yaml"], string(got))
	require.Equal(t, "kargo demo <demo@kargo.local>|kargo demo <demo@kargo.local>|Initial commit",
		strings.TrimSpace(mustGit(t, clone, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s")))

	t.Run("a push is accepted", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(clone, "pushed.txt"), []byte("x"), 0o600))
		mustGit(t, clone, "add", "pushed.txt")
		mustGit(t, clone, "commit", "--quiet", "-m", "pushed")
		mustGit(t, clone, "push", "--quiet", "origin", "main", "main:stages/test")
		head := strings.TrimSpace(mustGit(t, clone, "rev-parse", "HEAD"))
		out := mustGit(t, "", "ls-remote", url)
		require.Contains(t, out, head+"\trefs/heads/main")
		require.Contains(t, out, head+"\trefs/heads/stages/test")
	})

	t.Run("a push larger than git's post buffer is sent chunked and accepted", func(t *testing.T) {
		big := make([]byte, 3<<20) // random, so that it does not compress below 1 MiB
		_, err := rand.Read(big)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(clone, "big.bin"), big, 0o600))
		mustGit(t, clone, "add", "big.bin")
		mustGit(t, clone, "commit", "--quiet", "-m", "big")
		mustGit(t, clone, "push", "--quiet", "origin", "main")
		head := strings.TrimSpace(mustGit(t, clone, "rev-parse", "HEAD"))
		require.Contains(t, mustGit(t, "", "ls-remote", url, "main"), head)
	})

	t.Run("Commit adds a commit that clients see", func(t *testing.T) {
		before := strings.TrimSpace(mustGit(t, clone, "rev-parse", "HEAD"))
		sha, err := gitserver.Commit(root, "org/gitops", "main", map[string]string{"stages/test/values.yaml": "image:\n  tag: 1.25.0\n"}, "Bump to 1.25.0")
		require.NoError(t, err)
		require.Len(t, sha, 40)
		require.Contains(t, mustGit(t, "", "ls-remote", url, "main"), sha+"\trefs/heads/main")

		mustGit(t, clone, "pull", "--quiet", "--ff-only", "origin", "main")
		require.Equal(t, before, strings.TrimSpace(mustGit(t, clone, "rev-parse", "HEAD~1")), "the commit is on top of the pushed one")
		got, err := os.ReadFile(filepath.Join(clone, "stages", "test", "values.yaml"))
		require.NoError(t, err)
		require.Equal(t, "image:\n  tag: 1.25.0\n", string(got))
		_, err = os.Stat(filepath.Join(clone, "pushed.txt"))
		require.NoError(t, err, "files not named keep their content")
		require.Equal(t, "kargo demo <demo@kargo.local>", strings.TrimSpace(mustGit(t, clone, "log", "-1", "--format=%cn <%ce>")))
	})

	t.Run("Commit to a new branch starts it from nothing", func(t *testing.T) {
		sha, err := gitserver.Commit(root, "org/gitops", "orphan", map[string]string{"only.txt": "1"}, "orphan")
		require.NoError(t, err)
		require.Contains(t, mustGit(t, "", "ls-remote", url, "orphan"), sha)
		mustGit(t, clone, "fetch", "--quiet", "origin", "orphan")
		require.Equal(t, "only.txt\n", mustGit(t, clone, "ls-tree", "--name-only", "-r", "FETCH_HEAD"))
	})

	t.Run("options set the identity and the date", func(t *testing.T) {
		date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
		_, err := gitserver.Commit(root, "org/gitops", "main", map[string]string{"a": "1"}, "dated",
			gitserver.WithAuthor("A", "a@example.com"), gitserver.WithCommitter("C", "c@example.com"), gitserver.WithDate(date))
		require.NoError(t, err)
		mustGit(t, clone, "pull", "--quiet", "--ff-only", "origin", "main")
		require.Equal(t, "A <a@example.com>|C <c@example.com>|1714979289",
			strings.TrimSpace(mustGit(t, clone, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%ct")))
	})

	t.Run("Commit to a missing repository fails", func(t *testing.T) {
		_, err := gitserver.Commit(root, "nope", "main", map[string]string{"a": "1"}, "x")
		require.Error(t, err)
	})

	t.Run("a missing repository is not found", func(t *testing.T) {
		out, err := git(t, "", "ls-remote", srv.RepoURL("nope"))
		require.Error(t, err)
		require.Contains(t, out, "not found")
	})
}

func TestCreateRepoIsIdempotent(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, gitserver.CreateRepo(root, "app", map[string]string{"a": "1"}, "first"))
	first, err := gitserver.Commit(root, "app", "main", map[string]string{"a": "2"}, "second")
	require.NoError(t, err)

	require.NoError(t, gitserver.CreateRepo(root, "app", map[string]string{"a": "other"}, "again"))
	srv := serve(t, root)
	require.Contains(t, mustGit(t, "", "ls-remote", srv.RepoURL("app"), "main"), first, "an existing repository is left alone")

	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing is left aside")
}

func TestCreateRepoWithoutFilesIsEmpty(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, gitserver.CreateRepo(root, "empty", nil, ""))
	srv := serve(t, root)
	require.Empty(t, mustGit(t, "", "ls-remote", srv.RepoURL("empty")))

	sha, err := gitserver.Commit(root, "empty", "main", map[string]string{"a": "1"}, "first")
	require.NoError(t, err)
	out := mustGit(t, "", "ls-remote", "--symref", srv.RepoURL("empty"))
	require.Contains(t, out, "ref: refs/heads/main\tHEAD")
	require.Contains(t, out, sha+"\tHEAD")
}

func TestRepositoriesOutliveTheServer(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, gitserver.CreateRepo(root, "app", map[string]string{"a": "1"}, "first"))
	first, err := gitserver.Serve(t.Context(), "127.0.0.1:0", root)
	require.NoError(t, err)
	clone := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", "clone", "--quiet", first.RepoURL("app"), clone)
	require.NoError(t, os.WriteFile(filepath.Join(clone, "b"), []byte("2"), 0o600))
	mustGit(t, clone, "add", "b")
	mustGit(t, clone, "commit", "--quiet", "-m", "pushed")
	mustGit(t, clone, "push", "--quiet", "origin", "main")
	head := strings.TrimSpace(mustGit(t, clone, "rev-parse", "HEAD"))
	require.NoError(t, first.Close())
	require.NoError(t, first.Close(), "Close is idempotent")
	_, err = git(t, "", "ls-remote", first.RepoURL("app"))
	require.Error(t, err, "the server is down")

	second := serve(t, root)
	require.Contains(t, mustGit(t, "", "ls-remote", second.RepoURL("app"), "main"), head)
}

func TestServeStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	srv, err := gitserver.Serve(ctx, "127.0.0.1:0", t.TempDir())
	require.NoError(t, err)
	resp, err := http.Get(srv.URL() + "/nope.git/info/refs?service=git-upload-pack")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	cancel()
	require.Eventually(t, func() bool {
		resp, err := http.Get(srv.URL() + "/")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err != nil
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, srv.Close())
}
