// Package gitea runs Gitea, a real forge (built from source by
// hack/gitea-bins.sh), on loopback for the pull-request tests: SQLite in a
// temporary directory, an admin user with an API token, and helpers that
// play the people around a pull request: create a repository, push commits
// over git's HTTP protocol, read a pull request, merge or close it, protect
// a branch. The helpers talk to Gitea's REST API with their own small
// client, not with the product's (internal/forge), so that a test of the
// product checks it against the server rather than against itself.
package gitea

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// The admin user Start creates; its token is Gitea.Token.
const (
	AdminUser     = "kargo-admin"
	AdminPassword = "Kargo-Admin-Passw0rd"
	adminEmail    = "kargo-admin@example.com"
)

// Gitea is a running Gitea.
type Gitea struct {
	// URL is the root URL, such as http://127.0.0.1:41234, without a
	// trailing slash.
	URL string
	// Token is an API token of AdminUser with every scope.
	Token string
	// StartUp is how long Gitea took from its start to its first answer
	// of the API, for reports.
	StartUp time.Duration

	dir  string
	git  string
	http *http.Client
}

// Dir returns the directory of the binary and the files Gitea reads at run
// time: $KARGO_GITEA_BINS, or what hack/gitea-bins.sh prints (a cache hit
// takes milliseconds, a cold build minutes).
func Dir() (string, error) {
	return kubetest.HackBuilt("KARGO_GITEA_BINS", "gitea-bins.sh", []string{"gitea", "options", "templates"})
}

// Start starts Gitea for the test and stops it when the test ends. It fails
// the test when Gitea cannot be built or started; it never skips.
func Start(t testing.TB) *Gitea {
	t.Helper()
	bins, err := Dir()
	if err != nil {
		t.Fatalf("build Gitea: %v (hack/gitea-bins.sh builds it; KARGO_GITEA_BINS names its folder)", err)
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("Gitea needs the git CLI: %v", err)
	}
	dir := t.TempDir()
	dbDir := memoryDir(t)
	port := freePort(t)
	root := fmt.Sprintf("http://127.0.0.1:%d", port)
	runUser := "root"
	if u, err := user.Current(); err == nil {
		runUser = u.Username
	}
	ini := strings.NewReplacer("{DIR}", dir, "{DB}", filepath.Join(dbDir, "gitea.db"), "{PORT}", fmt.Sprint(port), "{ROOT}", root, "{USER}", runUser, "{STATIC}", bins).Replace(appIni)
	cfg := filepath.Join(dir, "app.ini")
	// Gitea writes INTERNAL_TOKEN and JWT_SECRET into its config on the
	// first start, so the file stays writable.
	if err := os.WriteFile(cfg, []byte(ini), 0o600); err != nil {
		t.Fatalf("write Gitea's app.ini: %v", err)
	}
	env := append(os.Environ(), "GITEA_WORK_DIR="+dir, "HOME="+dir, "GITEA_CUSTOM="+filepath.Join(dir, "custom"))
	if os.Geteuid() == 0 {
		// Gitea refuses root unless told; CI runs as root.
		env = append(env, "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true")
	}
	logPath := filepath.Join(dir, "gitea.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("Gitea log: %v", err)
	}
	bin := filepath.Join(bins, "gitea")
	cmd := exec.Command(bin, "--config", cfg, "web")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, log, log
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Gitea: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("Gitea's log:\n%s", tail(b, 8000))
		}
	})
	g := &Gitea{URL: root, dir: dir, git: git, http: &http.Client{Timeout: 30 * time.Second}}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(root + "/api/v1/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("Gitea exited: %v\n%s", err, tail(b, 8000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Gitea did not answer /api/v1/version within 90 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.StartUp = time.Since(t0)
	out, err := runGitea(bin, env, dir, "--config", cfg, "admin", "user", "create",
		"--username", AdminUser, "--password", AdminPassword, "--email", adminEmail,
		"--admin", "--must-change-password=false",
		"--access-token", "--access-token-name", "kargo-tests", "--access-token-scopes", "all")
	if err != nil {
		t.Fatalf("create Gitea's admin: %v: %s", err, out)
	}
	m := tokenLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no access token in the output of gitea admin user create: %s", out)
	}
	g.Token = m[1]
	return g
}

var tokenLine = regexp.MustCompile(`Access token was successfully created\.\.\. ([0-9a-f]{40})`)

// appIni is a configuration for tests: SQLite, no SSH, no mail, no
// registration, in-memory queues and sessions, and the issue indexer in the
// database, so that nothing but the temporary directory is written.
const appIni = `APP_NAME = kargo tests
RUN_USER = {USER}
RUN_MODE = prod
WORK_PATH = {DIR}

[database]
DB_TYPE = sqlite3
PATH = {DB}

[repository]
ROOT = {DIR}/repos
DEFAULT_BRANCH = main

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {PORT}
ROOT_URL = {ROOT}/
DOMAIN = 127.0.0.1
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
APP_DATA_PATH = {DIR}/data
STATIC_ROOT_PATH = {STATIC}

[security]
INSTALL_LOCK = true
SECRET_KEY = kargo-tests-secret-key

[mailer]
ENABLED = false

[service]
DISABLE_REGISTRATION = true

[indexer]
ISSUE_INDEXER_TYPE = db

[queue]
TYPE = channel

[session]
PROVIDER = memory

[log]
MODE = console
LEVEL = warn

[cron.update_checker]
ENABLED = false
`

// memoryDir returns a directory for Gitea's database in memory (/dev/shm)
// when the machine has one, and on disk otherwise: SQLite syncs each of the
// hundreds of migrations of a fresh database to disk, which takes Gitea's
// first start from ~4 s to 10-18 s on a busy disk.
func memoryDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "kargo-gitea-")
	if err != nil {
		return t.TempDir()
	}
	// Registered before Gitea's own cleanup, so it runs after Gitea stops.
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func runGitea(bin string, env []string, dir string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// RepoURL returns the address of owner/name for git and for kargo, such as
// http://127.0.0.1:41234/kargo-admin/gitops.git.
func (g *Gitea) RepoURL(owner, name string) string {
	return g.URL + "/" + owner + "/" + name + ".git"
}

// API calls method on path (below /api/v1) as the admin with body (JSON,
// nil for none), decodes the answer into out (when not nil) and returns the
// status. A status of 400 or more fails the test unless it is among ok.
func (g *Gitea) API(t testing.TB, method, path string, body, out any, ok ...int) int {
	t.Helper()
	return g.APIAs(t, "token "+g.Token, method, path, body, out, ok...)
}

// APIAs is API with an Authorization header of the caller's choice.
func (g *Gitea) APIAs(t testing.TB, authorization, method, path string, body, out any, ok ...int) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("gitea: encode %s %s: %v", method, path, err)
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, g.URL+"/api/v1"+path, r)
	if err != nil {
		t.Fatalf("gitea: %s %s: %v", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := g.http.Do(req)
	if err != nil {
		t.Fatalf("gitea: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 && !contains(ok, resp.StatusCode) {
		t.Fatalf("gitea: %s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil && resp.StatusCode < 300 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("gitea: decode the answer to %s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// User is a Gitea user other than the admin, with an API token.
type User struct {
	Name, Password, Token string
}

// CreateUser creates a user with a token that may write repositories (which
// ones is up to the repositories' owners: see AddCollaborator).
func (g *Gitea) CreateUser(t testing.TB, name string) User {
	t.Helper()
	u := User{Name: name, Password: "Passw0rd-" + name}
	g.API(t, http.MethodPost, "/admin/users", map[string]any{
		"username": name, "email": name + "@example.com", "password": u.Password, "must_change_password": false,
	}, nil)
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	basic := "Basic " + basicAuth(name, u.Password)
	g.APIAs(t, basic, http.MethodPost, "/users/"+name+"/tokens", map[string]any{
		"name": "kargo-tests", "scopes": []string{"write:repository", "write:issue", "read:user"},
	}, &tok)
	u.Token = tok.SHA1
	return u
}

// AddCollaborator gives user permission ("read", "write" or "admin") on
// owner/repo.
func (g *Gitea) AddCollaborator(t testing.TB, owner, repo, user, permission string) {
	t.Helper()
	g.API(t, http.MethodPut, "/repos/"+owner+"/"+repo+"/collaborators/"+user, map[string]any{"permission": permission}, nil)
}

// CreateRepo creates the empty repository AdminUser/name, whose default
// branch is main; push to it with Commit.
func (g *Gitea) CreateRepo(t testing.TB, name string) {
	t.Helper()
	g.API(t, http.MethodPost, "/user/repos", map[string]any{
		"name": name, "auto_init": false, "default_branch": "main", "private": true,
	}, nil)
}

// Commit commits files (path to content) on top of from (a branch; "" for a
// first commit) and pushes the commit to branch of AdminUser/repo over git's
// HTTP protocol, as a person would, so that Gitea sees a push and updates
// its pull requests. It returns the commit's SHA. Files not named keep
// their content from from.
func (g *Gitea) Commit(t testing.TB, repo, from, branch string, files map[string]string, message string) string {
	t.Helper()
	work := t.TempDir()
	remote := g.authedURL(repo)
	if from == "" {
		g.runGit(t, work, "init", "-q", "-b", branch)
	} else {
		g.runGit(t, work, "clone", "-q", "--branch", from, "--single-branch", remote, ".")
	}
	for path, content := range files {
		full := filepath.Join(work, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatalf("gitea: %v", err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatalf("gitea: %v", err)
		}
	}
	g.runGit(t, work, "add", "-A")
	g.runGit(t, work, "commit", "-q", "-m", message)
	g.runGit(t, work, "push", "-q", remote, "HEAD:refs/heads/"+branch)
	return strings.TrimSpace(g.runGit(t, work, "rev-parse", "HEAD"))
}

// BranchHead returns the SHA branch of AdminUser/repo points at, as git
// sees it over HTTP.
func (g *Gitea) BranchHead(t testing.TB, repo, branch string) string {
	t.Helper()
	out := g.runGit(t, g.dir, "ls-remote", g.authedURL(repo), "refs/heads/"+branch)
	sha, _, _ := strings.Cut(strings.TrimSpace(out), "\t")
	if sha == "" {
		t.Fatalf("gitea: %s has no branch %s", repo, branch)
	}
	return sha
}

// Show returns the content of path at ref of AdminUser/repo, through the
// API.
func (g *Gitea) Show(t testing.TB, repo, ref, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/api/v1/repos/"+AdminUser+"/"+repo+"/raw/"+path+"?ref="+url.QueryEscape(ref), nil)
	if err != nil {
		t.Fatalf("gitea: %v", err)
	}
	req.Header.Set("Authorization", "token "+g.Token)
	resp, err := g.http.Do(req)
	if err != nil {
		t.Fatalf("gitea: read %s at %s: %v", path, ref, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("gitea: read %s at %s: %s: %s", path, ref, resp.Status, b)
	}
	return string(b)
}

func (g *Gitea) authedURL(repo string) string {
	u, _ := url.Parse(g.RepoURL(AdminUser, repo))
	u.User = url.UserPassword(AdminUser, g.Token)
	return u.String()
}

func (g *Gitea) runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(g.git, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Test Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Committer", "GIT_COMMITTER_EMAIL=committer@example.com",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gitea: git %s: %v: %s", args[0], err, strings.ReplaceAll(stderr.String(), g.Token, "<token>"))
	}
	return stdout.String()
}

// PullRequest is what the tests read of a pull request, in Gitea's own
// JSON names.
type PullRequest struct {
	Number         int64   `json:"number"`
	Title          string  `json:"title"`
	Body           string  `json:"body"`
	State          string  `json:"state"`
	Merged         bool    `json:"merged"`
	MergeCommitSHA *string `json:"merge_commit_sha"`
	Mergeable      bool    `json:"mergeable"`
	HTMLURL        string  `json:"html_url"`
	Labels         []Label `json:"labels"`
	Head           Branch  `json:"head"`
	Base           Branch  `json:"base"`
}

// Label is a label of an issue or pull request.
type Label struct {
	Name string `json:"name"`
}

// Branch is the head or base of a pull request.
type Branch struct {
	Ref string `json:"ref"`
	SHA string `json:"sha"`
}

// PullRequest reads pull request number of AdminUser/repo.
func (g *Gitea) PullRequest(t testing.TB, repo string, number int64) PullRequest {
	t.Helper()
	var pr PullRequest
	g.API(t, http.MethodGet, fmt.Sprintf("/repos/%s/%s/pulls/%d", AdminUser, repo, number), nil, &pr)
	return pr
}

// PullRequests lists the pull requests of AdminUser/repo in state ("open",
// "closed" or "all").
func (g *Gitea) PullRequests(t testing.TB, repo, state string) []PullRequest {
	t.Helper()
	var prs []PullRequest
	g.API(t, http.MethodGet, fmt.Sprintf("/repos/%s/%s/pulls?state=%s&limit=50", AdminUser, repo, state), nil, &prs)
	return prs
}

// CreatePullRequest opens a pull request from head to base as the admin,
// as a person would, and returns its number.
func (g *Gitea) CreatePullRequest(t testing.TB, repo, head, base, title string) int64 {
	t.Helper()
	var pr PullRequest
	g.API(t, http.MethodPost, fmt.Sprintf("/repos/%s/%s/pulls", AdminUser, repo), map[string]any{
		"head": head, "base": base, "title": title,
	}, &pr)
	return pr.Number
}

// WaitMergeable polls pull request number until Gitea has checked it and
// found it mergeable, as a person waits for the merge button; it fails the
// test after 60 s.
func (g *Gitea) WaitMergeable(t testing.TB, repo string, number int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if g.PullRequest(t, repo, number).Mergeable {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gitea: pull request %d of %s is not mergeable after 60 s", number, repo)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Merge merges pull request number of AdminUser/repo with style ("merge",
// "squash", "rebase", ...) as the admin, waiting for Gitea's mergeability
// check first, and returns the pull request afterwards.
func (g *Gitea) Merge(t testing.TB, repo string, number int64, style string) PullRequest {
	t.Helper()
	g.WaitMergeable(t, repo, number)
	g.API(t, http.MethodPost, fmt.Sprintf("/repos/%s/%s/pulls/%d/merge", AdminUser, repo, number), map[string]any{"Do": style}, nil)
	return g.PullRequest(t, repo, number)
}

// Close closes pull request number of AdminUser/repo without merging it.
func (g *Gitea) Close(t testing.TB, repo string, number int64) {
	t.Helper()
	g.API(t, http.MethodPatch, fmt.Sprintf("/repos/%s/%s/pulls/%d", AdminUser, repo, number), map[string]any{"state": "closed"}, nil)
}

// ProtectBranch makes branch of AdminUser/repo need approvals approving
// reviews before a pull request into it may be merged.
func (g *Gitea) ProtectBranch(t testing.TB, repo, branch string, approvals int) {
	t.Helper()
	g.API(t, http.MethodPost, fmt.Sprintf("/repos/%s/%s/branch_protections", AdminUser, repo), map[string]any{
		"rule_name": branch, "required_approvals": approvals, "enable_push": true,
	}, nil)
}

func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}
