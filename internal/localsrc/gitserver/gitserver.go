// Package gitserver serves Git repositories over the smart-HTTP protocol, so
// that `kargo local --demo` needs no Git host of its own. It runs the real
// `git http-backend` through net/http/cgi, the same server code production
// hosts run, with pushes enabled; the component tests' server
// (internal/testutil/gitserver) wraps the same handler.
//
// Repositories are bare directories <root>/<name>.git; names may contain
// slashes ("org/app"). Anyone who can reach the listener may fetch and push,
// so serve it on loopback only.
package gitserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kargohq/kargo/internal/localsrc"
)

// AuthorName and AuthorEmail are the identity of the commits CreateRepo and
// Commit make unless told otherwise.
const (
	AuthorName  = "kargo demo"
	AuthorEmail = "demo@kargo.local"
)

// NewHandler returns a handler serving the bare repositories under root,
// which it creates when missing. A request for <name>.git/... is served
// from <root>/<name>.git. It fails when the git CLI is not installed.
func NewHandler(root string) (http.Handler, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("find the git CLI: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create git root %s: %w", root, err)
	}
	return dechunk(&cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		// http-backend complains on stderr about every missing repository,
		// and net/http/cgi about every client that hangs up early; both
		// reach the client as an HTTP error already.
		Stderr: io.Discard,
		Logger: log.New(io.Discard, "", 0),
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=" + os.DevNull,
			"HOME=" + root,
			"GIT_CONFIG_COUNT=3",
			// http-backend refuses anonymous pushes unless told otherwise.
			"GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true",
			// Partial clones (--filter=blob:none) need the server's consent.
			"GIT_CONFIG_KEY_1=uploadpack.allowFilter", "GIT_CONFIG_VALUE_1=true",
			"GIT_CONFIG_KEY_2=uploadpack.allowAnySHA1InWant", "GIT_CONFIG_VALUE_2=true",
		},
	}), nil
}

// memoryBodyLimit is the size up to which dechunk holds a request body in
// memory; larger bodies go to a temporary file.
const memoryBodyLimit = 4 << 20

// dechunk gives next every request body with a known length. The git CLI
// sends a request body larger than its http.postBuffer (1 MiB), such as
// the pack of a large push, chunked, and net/http/cgi refuses chunked
// bodies with 400 because CGI passes the length in CONTENT_LENGTH.
func dechunk(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		var buf bytes.Buffer
		n, err := io.Copy(&buf, io.LimitReader(r.Body, memoryBodyLimit+1))
		if err != nil {
			http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		var body io.Reader = &buf
		if n > memoryBodyLimit {
			f, err := os.CreateTemp("", "kargo-git-request-")
			if err != nil {
				http.Error(w, "spool request body: "+err.Error(), http.StatusInternalServerError)
				return
			}
			defer os.Remove(f.Name()) //nolint:errcheck // a temporary file
			defer f.Close()           //nolint:errcheck // read only from here on
			if n, err = io.Copy(f, io.MultiReader(&buf, r.Body)); err != nil {
				http.Error(w, "spool request body: "+err.Error(), http.StatusBadRequest)
				return
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				http.Error(w, "spool request body: "+err.Error(), http.StatusInternalServerError)
				return
			}
			body = f
		}
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(body)
		r2.ContentLength = n
		r2.TransferEncoding = nil
		next.ServeHTTP(w, r2)
	})
}

// Dir is the path of repository name's bare directory under root.
func Dir(root, name string) string { return filepath.Join(root, name+".git") }

// CreateRepo creates the bare repository name under root, with main as its
// default branch and, unless files is empty, one commit of files (path to
// content) on main. It does nothing when the repository exists already, so
// that a restart keeps what was pushed since. The repository appears
// whole or not at all: it is built aside and renamed into place.
func CreateRepo(root, name string, files map[string]string, message string) error {
	final := Dir(root, name)
	if fi, err := os.Stat(final); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("create repository %s: %s is not a directory", name, final)
		}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create repository %s: %w", name, err)
	}
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create repository %s: %w", name, err)
	}
	tmp, err := os.MkdirTemp(parent, ".creating-"+filepath.Base(final)+"-")
	if err != nil {
		return fmt.Errorf("create repository %s: %w", name, err)
	}
	defer os.RemoveAll(tmp) //nolint:errcheck // gone after the rename; best effort otherwise

	// init then symbolic-ref rather than --initial-branch, which needs
	// git 2.28.
	if _, err := runGit(tmp, nil, "", "init", "--quiet", "--bare"); err != nil {
		return fmt.Errorf("create repository %s: %w", name, err)
	}
	if _, err := runGit(tmp, nil, "", "symbolic-ref", "HEAD", "refs/heads/main"); err != nil {
		return fmt.Errorf("create repository %s: %w", name, err)
	}
	if len(files) > 0 {
		if _, err := commit(tmp, "main", files, message, nil); err != nil {
			return fmt.Errorf("create repository %s: %w", name, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if fi, statErr := os.Stat(final); statErr == nil && fi.IsDir() {
			return nil // created concurrently
		}
		return fmt.Errorf("create repository %s: %w", name, err)
	}
	return nil
}

// CommitOption changes how Commit records a commit.
type CommitOption func(*commitConfig)

type commitConfig struct {
	authorName, authorEmail       string
	committerName, committerEmail string
	date                          time.Time
}

// WithAuthor records name <email> as the commit's author instead of
// AuthorName <AuthorEmail>.
func WithAuthor(name, email string) CommitOption {
	return func(c *commitConfig) { c.authorName, c.authorEmail = name, email }
}

// WithCommitter records name <email> as the commit's committer instead of
// AuthorName <AuthorEmail>.
func WithCommitter(name, email string) CommitOption {
	return func(c *commitConfig) { c.committerName, c.committerEmail = name, email }
}

// WithDate dates the commit at t instead of now.
func WithDate(t time.Time) CommitOption {
	return func(c *commitConfig) { c.date = t }
}

// Commit commits files (path to content) to repo under root on top of
// branch, creating the branch from nothing when it does not exist, and
// returns the new commit's full SHA. Files not named keep their content
// from the parent commit. The commit is made with plumbing in the bare
// repository, so it needs no clone, and the branch moves only if nobody
// pushed to it meanwhile; otherwise Commit fails and changes nothing.
func Commit(root, repo, branch string, files map[string]string, message string, opts ...CommitOption) (string, error) {
	sha, err := commit(Dir(root, repo), branch, files, message, opts)
	if err != nil {
		return "", fmt.Errorf("commit to %s of %s: %w", branch, repo, err)
	}
	return sha, nil
}

func commit(gitDir, branch string, files map[string]string, message string, opts []CommitOption) (string, error) {
	cfg := commitConfig{
		authorName: AuthorName, authorEmail: AuthorEmail,
		committerName: AuthorName, committerEmail: AuthorEmail,
		date: time.Now(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	indexDir, err := os.MkdirTemp("", "kargo-git-index-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(indexDir) //nolint:errcheck // a temporary index
	date := fmt.Sprintf("@%d %s", cfg.date.Unix(), cfg.date.Format("-0700"))
	env := []string{
		"GIT_INDEX_FILE=" + filepath.Join(indexDir, "index"),
		"GIT_AUTHOR_NAME=" + cfg.authorName, "GIT_AUTHOR_EMAIL=" + cfg.authorEmail,
		"GIT_COMMITTER_NAME=" + cfg.committerName, "GIT_COMMITTER_EMAIL=" + cfg.committerEmail,
		"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date,
	}
	run := func(stdin string, args ...string) (string, error) {
		out, err := runGit(gitDir, env, stdin, args...)
		return strings.TrimSpace(out), err
	}

	parent, err := run("", "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	if err != nil {
		parent = ""
	}
	if parent != "" {
		_, err = run("", "read-tree", parent)
	} else {
		_, err = run("", "read-tree", "--empty")
	}
	if err != nil {
		return "", err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var indexInfo strings.Builder
	for _, p := range paths {
		blob, err := run(files[p], "hash-object", "-w", "--stdin")
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&indexInfo, "100644 %s\t%s\n", blob, p)
	}
	if indexInfo.Len() > 0 {
		if _, err := run(indexInfo.String(), "update-index", "--index-info"); err != nil {
			return "", err
		}
	}
	tree, err := run("", "write-tree")
	if err != nil {
		return "", err
	}
	args := []string{"commit-tree", tree, "-F", "-"}
	if parent != "" {
		args = append(args, "-p", parent)
	}
	sha, err := run(message, args...)
	if err != nil {
		return "", err
	}
	old := parent
	if old == "" {
		old = strings.Repeat("0", len(sha)) // the branch must not exist yet
	}
	if _, err := run("", "update-ref", "refs/heads/"+branch, sha, old); err != nil {
		return "", err
	}
	return sha, nil
}

// isolatedEnv is the environment of the git processes this package runs:
// the caller's, without what would point git at another repository, and
// without the user's and the system's configuration, which could ask for
// signed commits or hooks.
func isolatedEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
			"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
			"GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "HOME="+home, "GIT_TERMINAL_PROMPT=0")
}

// runGit runs git in dir and returns its standard output; a failure's error
// carries git's standard error.
func runGit(dir string, env []string, stdin string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(isolatedEnv(dir), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Server is a running smart-HTTP Git server.
type Server struct {
	*localsrc.Server
}

// Serve serves the repositories under root on addr, such as
// "127.0.0.1:0", until Close is called or ctx is done.
func Serve(ctx context.Context, addr, root string) (*Server, error) {
	h, err := NewHandler(root)
	if err != nil {
		return nil, err
	}
	srv, err := localsrc.Serve(ctx, addr, "Git server", h, nil)
	if err != nil {
		return nil, err
	}
	return &Server{srv}, nil
}

// RepoURL is the clone URL of repository name.
func (s *Server) RepoURL(name string) string { return s.URL() + "/" + name + ".git" }
