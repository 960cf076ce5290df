package gitserver_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

// git runs the git CLI isolated from the host's configuration.
func git(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := git(t, dir, env, args...)
	require.NoError(t, err, out)
	return out
}

func TestServeAndCount(t *testing.T) {
	srv := gitserver.New(t)
	url := srv.CreateRepo("org/app")
	require.Equal(t, srv.URL+"/org/app.git", url)
	first := srv.Commit(t, "org/app", "main", map[string]string{"a.txt": "1", "dir/b.txt": "2"}, "first")
	second := srv.Commit(t, "org/app", "main", map[string]string{"a.txt": "changed"}, "second")
	srv.Tag(t, "org/app", "light", first)
	tagObject := srv.AnnotatedTag(t, "org/app", "v1.0.0", second, "release")
	require.NotEqual(t, second, tagObject)
	require.Equal(t, gitserver.Counts{}, srv.Counts("org/app"), "setting up makes no request")

	out := mustGit(t, "", nil, "-c", "protocol.version=2", "ls-remote", "--symref", url)
	require.Contains(t, out, "ref: refs/heads/main\tHEAD")
	require.Contains(t, out, second+"\trefs/heads/main")
	require.Contains(t, out, first+"\trefs/tags/light")
	require.Contains(t, out, tagObject+"\trefs/tags/v1.0.0")
	require.Contains(t, out, second+"\trefs/tags/v1.0.0^{}")
	require.Equal(t, gitserver.Counts{InfoRefs: 1, LsRefs: 1}, srv.Counts("org/app"))

	clone := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", nil, "-c", "protocol.version=2", "clone", "--quiet", url, clone)
	require.Equal(t, gitserver.Counts{InfoRefs: 2, LsRefs: 2, Fetches: 1}, srv.Counts("org/app"))
	data, err := os.ReadFile(filepath.Join(clone, "dir", "b.txt"))
	require.NoError(t, err)
	require.Equal(t, "2", string(data), "files not named in a commit keep their content")
	require.Equal(t, "first", strings.TrimSpace(mustGit(t, clone, nil, "log", "-1", "--format=%s", "HEAD~1")))

	t.Run("protocol v0 counts the advertisement and each upload-pack POST", func(t *testing.T) {
		srv.ResetCounts()
		mustGit(t, "", nil, "-c", "protocol.version=0", "clone", "--quiet", "--bare", url, filepath.Join(t.TempDir(), "v0"))
		require.Equal(t, gitserver.Counts{InfoRefs: 1, Fetches: 1}, srv.Counts("org/app"))
	})

	t.Run("pushes are accepted and counted apart", func(t *testing.T) {
		srv.ResetCounts()
		require.NoError(t, os.WriteFile(filepath.Join(clone, "c.txt"), []byte("3"), 0o600))
		mustGit(t, clone, nil, "add", "c.txt")
		mustGit(t, clone, nil, "commit", "--quiet", "-m", "pushed")
		mustGit(t, clone, nil, "push", "--quiet", "origin", "main")
		require.Equal(t, 1, srv.Counts("org/app").Pushes)
		require.Equal(t, "pushed", strings.TrimSpace(srv.Git(t, "org/app", "", "log", "-1", "--format=%s", "main")))
	})

	t.Run("a partial clone is served", func(t *testing.T) {
		mustGit(t, "", nil, "clone", "--quiet", "--bare", "--filter=blob:none", url, filepath.Join(t.TempDir(), "partial"))
	})
}

func TestCommitDates(t *testing.T) {
	srv := gitserver.New(t)
	srv.CreateRepo("app")
	c1 := srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")
	srv.AnnotatedTag(t, "app", "t1", c1, "tag")
	c2 := srv.Commit(t, "app", "main", map[string]string{"a": "2"}, "two")
	dates := srv.Git(t, "app", "", "for-each-ref", "--format=%(creatordate:unix)", "--sort=creatordate", "refs/tags/t1", "refs/heads/main")
	require.Equal(t, "1704067320\n1704067380\n", dates, "each commit and tag is a minute after the one before")
	require.NotEqual(t, c1, c2)
}

func TestDefaultBranchAndBranches(t *testing.T) {
	srv := gitserver.New(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")
	dev := srv.Commit(t, "app", "dev", map[string]string{"d": "1"}, "dev")
	srv.SetDefaultBranch(t, "app", "dev")
	out := mustGit(t, "", nil, "ls-remote", "--symref", url, "HEAD")
	require.Contains(t, out, "ref: refs/heads/dev\tHEAD")
	require.Contains(t, out, dev+"\tHEAD")

	srv.DeleteBranch(t, "app", "dev")
	require.NotContains(t, mustGit(t, "", nil, "ls-remote", url), "refs/heads/dev")
}

func TestBasicAuth(t *testing.T) {
	srv := gitserver.New(t, gitserver.WithBasicAuth("robot", "pw"))
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")

	tests := []struct {
		name       string
		user, pass string
		wantStatus int
	}{
		{name: "right credentials", user: "robot", pass: "pw", wantStatus: http.StatusOK},
		{name: "wrong password", user: "robot", pass: "nope", wantStatus: http.StatusUnauthorized},
		{name: "no credentials", wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/info/refs?service=git-upload-pack", nil)
			require.NoError(t, err)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantStatus == http.StatusUnauthorized {
				require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic")
			}
		})
	}
	require.Equal(t, 2, srv.Counts("app").Unauthorized)

	t.Run("git with credentials", func(t *testing.T) {
		withCreds := strings.Replace(url, "http://", "http://robot:pw@", 1)
		mustGit(t, "", nil, "ls-remote", withCreds)
		out, err := git(t, "", nil, "ls-remote", url)
		require.Error(t, err)
		require.Contains(t, out, "could not read Username")
	})
}

func TestTLS(t *testing.T) {
	srv := gitserver.New(t, gitserver.WithTLS())
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")
	require.True(t, strings.HasPrefix(url, "https://127.0.0.1:"))

	out, err := git(t, "", nil, "ls-remote", url)
	require.Error(t, err, "the certificate is not trusted by default")
	require.Contains(t, out, "certificate")

	mustGit(t, "", []string{"GIT_SSL_CAINFO=" + srv.CAFile()}, "ls-remote", url)

	resp, err := srv.Client().Get(url + "/info/refs?service=git-upload-pack")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestFailuresAndShutdown(t *testing.T) {
	srv := gitserver.New(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a": "1"}, "one")

	srv.Fail(http.StatusBadGateway)
	out, err := git(t, "", nil, "ls-remote", url)
	require.Error(t, err)
	require.Contains(t, out, "502")
	srv.Fail(0)
	mustGit(t, "", nil, "ls-remote", url)

	srv.DeleteRepo("app")
	out, err = git(t, "", nil, "ls-remote", url)
	require.Error(t, err)
	require.Contains(t, out, "not found")

	srv.Close()
	srv.Close()
	out, err = git(t, "", nil, "ls-remote", url)
	require.Error(t, err)
	require.Contains(t, strings.ToLower(out), "connect")
}

func TestLogShowAndBranchHead(t *testing.T) {
	srv := gitserver.New(t)
	srv.CreateRepo("app")
	c1 := srv.Commit(t, "app", "main", map[string]string{"a.txt": "1", "dir/b.txt": "2"}, "first")
	c2 := srv.Commit(t, "app", "main", map[string]string{"a.txt": "changed"}, "second\n\nbody\n\nKey: value")

	log := srv.Log(t, "app", "main")
	require.Len(t, log, 2)
	require.Equal(t, c2, log[0].SHA)
	require.Equal(t, []string{c1}, log[0].Parents)
	require.Equal(t, "second", log[0].Subject)
	require.Equal(t, "second\n\nbody\n\nKey: value", log[0].Message)
	require.Equal(t, []string{"a.txt"}, log[0].Files)
	require.Equal(t, []string{"a.txt", "dir/b.txt"}, log[1].Files)
	require.Empty(t, log[1].Parents)
	require.Equal(t, "Test Author <author@example.com>", log[0].Author)
	require.Equal(t, "Test Committer <committer@example.com>", log[0].Committer)
	require.Equal(t, strings.TrimSpace(srv.Git(t, "app", "", "rev-parse", "main^{tree}")), log[0].Tree)

	require.Equal(t, "changed", srv.Show(t, "app", "main", "a.txt"))
	require.Equal(t, "2", srv.Show(t, "app", c1, "dir/b.txt"))
	require.Equal(t, c2, srv.BranchHead(t, "app", "main"))
	require.Empty(t, srv.BranchHead(t, "app", "nope"))
}

func TestPushHooks(t *testing.T) {
	srv := gitserver.New(t)
	url := srv.CreateRepo("app")
	srv.Commit(t, "app", "main", map[string]string{"a.txt": "1"}, "first")
	clone := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", nil, "clone", "--quiet", url, clone)
	push := func(t *testing.T, file string) (string, error) {
		require.NoError(t, os.WriteFile(filepath.Join(clone, file), []byte(file), 0o600))
		mustGit(t, clone, nil, "add", file)
		mustGit(t, clone, nil, "commit", "--quiet", "-m", file)
		return git(t, clone, nil, "push", "--porcelain", "origin", "HEAD:main")
	}

	t.Run("the next push loses a race once", func(t *testing.T) {
		calls := 0
		srv.BeforeNextPush("app", func() {
			calls++
			srv.Commit(t, "app", "main", map[string]string{"other.txt": "x"}, "someone else")
		})
		out, err := push(t, "b.txt")
		require.Error(t, err)
		require.Contains(t, out, "[remote rejected]")
		require.Equal(t, "someone else", srv.Log(t, "app", "main")[0].Subject)

		mustGit(t, clone, nil, "pull", "--quiet", "--rebase", "origin", "main")
		out, err = push(t, "c.txt")
		require.NoError(t, err, out)
		require.Equal(t, 1, calls)
	})

	t.Run("every push loses until the hook is removed", func(t *testing.T) {
		srv.BeforeEachPush("app", func() { srv.Commit(t, "app", "main", map[string]string{"other.txt": "y"}, "again") })
		for i := range 2 {
			mustGit(t, clone, nil, "pull", "--quiet", "--rebase", "origin", "main")
			_, err := push(t, fmt.Sprintf("d%d.txt", i))
			require.Error(t, err)
		}
		srv.BeforeEachPush("app", nil)
		mustGit(t, clone, nil, "pull", "--quiet", "--rebase", "origin", "main")
		out, err := push(t, "e.txt")
		require.NoError(t, err, out)
	})
}
