package gitserver_test

import (
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
