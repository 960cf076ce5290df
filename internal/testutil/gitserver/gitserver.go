// Package gitserver serves Git repositories over the smart-HTTP protocol on
// loopback for component tests. It wraps the handler of `kargo local
// --demo`'s Git server (internal/localsrc/gitserver), the real `git
// http-backend` through net/http/cgi, so the git CLI under test talks to the
// same server code that production hosts run; around it, it adds basic auth,
// TLS and injected failures, and it counts the protocol requests of every
// repository so tests and benchmarks can assert how much network work a
// client did.
//
// Repositories are bare and live in a temporary directory. Commits and tags
// are made with plumbing directly in the bare repository rather than pushed,
// so setting up a test never shows up in the request counters.
package gitserver

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	localgit "github.com/kargohq/kargo/internal/localsrc/gitserver"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	username, password string
	tls                bool
}

// WithBasicAuth makes the server require HTTP basic authentication with
// exactly this username and password. Requests without them, or with
// others, get 401 and a WWW-Authenticate challenge, as real hosts answer.
func WithBasicAuth(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// WithTLS serves HTTPS with a self-signed certificate for 127.0.0.1. Clients
// trust it through CAFile (for git: GIT_SSL_CAINFO or http.sslCAInfo) or
// Client.
func WithTLS() Option {
	return func(c *config) { c.tls = true }
}

// Counts are the smart-HTTP requests a repository received. Every git
// process that talks to the server (ls-remote, fetch, clone, push) starts
// with exactly one ref or capability advertisement (InfoRefs), so InfoRefs is
// the number of git network operations. Under protocol v2 the listing and
// the object transfer are separate commands in later POSTs, counted as
// LsRefs and Fetches; under protocol v0 the advertisement is the listing and
// each upload-pack POST is a fetch.
type Counts struct {
	// InfoRefs counts GET .../info/refs?service=git-upload-pack.
	InfoRefs int
	// LsRefs counts protocol v2 ls-refs commands.
	LsRefs int
	// Fetches counts upload-pack requests that negotiate or send objects:
	// protocol v2 fetch commands and every protocol v0 upload-pack POST.
	Fetches int
	// Pushes counts receive-pack POSTs.
	Pushes int
	// Unauthorized counts requests refused with 401.
	Unauthorized int
}

// Server is a running smart-HTTP Git server. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the base URL, such as http://127.0.0.1:41234, without a
	// trailing slash.
	URL string

	root   string
	git    string
	cfg    config
	srv    *httptest.Server
	caFile string
	once   sync.Once

	mu     sync.Mutex
	counts map[string]*Counts
	// requests counts every request per repository (Requests).
	requests map[string]int
	fail     int
	clock    time.Time
	// pushHooks run before the server handles a push to a repository.
	pushHooks map[string]pushHook
	// fetchHooks run once, before the server handles the next fetch
	// command of a repository.
	fetchHooks map[string]func()
}

// pushHook is a function run before pushes; once hooks are removed after
// their first run.
type pushHook struct {
	f    func()
	once bool
}

// New starts a server that stops when the test ends. It fails the test when
// the git CLI is missing, because every component test of the git packages
// depends on it.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("gitserver: the git CLI is required: %v", err)
	}
	s := &Server{
		root:      t.TempDir(),
		git:       gitPath,
		counts:    map[string]*Counts{},
		requests:  map[string]int{},
		pushHooks: map[string]pushHook{},
		// A fixed, advancing clock makes commit and tag dates distinct and
		// reproducible, so tests that order by date need no sleeps.
		clock: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, o := range opts {
		o(&s.cfg)
	}
	backend, err := localgit.NewHandler(s.root)
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	s.srv = httptest.NewUnstartedServer(s.handler(backend))
	if s.cfg.tls {
		s.srv.StartTLS()
		s.caFile = filepath.Join(s.root, "ca.pem")
		block := &pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw}
		if err := os.WriteFile(s.caFile, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatalf("gitserver: write CA file: %v", err)
		}
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server. Later requests fail with "connection refused",
// which is how tests simulate a host that is down. It is safe to call more
// than once.
func (s *Server) Close() {
	s.once.Do(s.srv.Close)
}

// Host is the server's address, such as "127.0.0.1:41234", as an
// --allow-outbound rule names it.
func (s *Server) Host() string { return s.srv.Listener.Addr().String() }

// CAFile is the path of a PEM file holding the server's certificate, for
// GIT_SSL_CAINFO or http.sslCAInfo. It is empty without WithTLS.
func (s *Server) CAFile() string { return s.caFile }

// Client is an HTTP client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Fail makes every request answer with status until Fail(0), to simulate a
// server error (500, 503) or a refusal (403).
func (s *Server) Fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = status
}

// Counts returns the requests repo has received so far.
func (s *Server) Counts(repo string) Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.counts[repo]; c != nil {
		return *c
	}
	return Counts{}
}

// ResetCounts forgets the requests of every repository.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]*Counts{}
	s.requests = map[string]int{}
}

// Requests returns the HTTP requests made to repo that were not refused
// with 401, of every kind: those of Counts, and the advertisements of
// receive-pack (GET .../info/refs?service=git-receive-pack) that a push
// starts with.
func (s *Server) Requests(repo string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[repo]
}

// RepoURL is the clone URL of repo, without credentials.
func (s *Server) RepoURL(repo string) string { return s.URL + "/" + repo + ".git" }

// Dir is the path of repo's bare repository on disk.
func (s *Server) Dir(repo string) string { return filepath.Join(s.root, repo+".git") }

// CreateRepo creates an empty bare repository whose default branch is main
// and returns its clone URL. Names may contain slashes ("org/app"). It
// panics when git fails, which only a broken environment causes; it takes
// no testing.TB so that it reads like the rest of a test's set-up.
func (s *Server) CreateRepo(name string) string {
	if err := localgit.CreateRepo(s.root, name, nil, ""); err != nil {
		panic(fmt.Sprintf("gitserver: %v", err))
	}
	return s.RepoURL(name)
}

// DeleteRepo removes repo, so that clients get 404 from then on.
func (s *Server) DeleteRepo(name string) {
	if err := os.RemoveAll(s.Dir(name)); err != nil {
		panic(fmt.Sprintf("gitserver: delete repository %s: %v", name, err))
	}
}

// SetDefaultBranch points repo's HEAD at branch, which is what clients see
// as the default branch.
func (s *Server) SetDefaultBranch(t testing.TB, repo, branch string) {
	t.Helper()
	s.Git(t, repo, "", "symbolic-ref", "HEAD", "refs/heads/"+branch)
}

// Commit commits files (path to content) on top of branch, creating the
// branch when it does not exist, and returns the new commit's full SHA.
// Files not named keep their content from the parent commit. Each commit
// is dated one minute after the previous commit or tag of the server.
func (s *Server) Commit(t testing.TB, repo, branch string, files map[string]string, message string) string {
	t.Helper()
	sha, err := localgit.Commit(s.root, repo, branch, files, message,
		localgit.WithAuthor(authorName, authorEmail),
		localgit.WithCommitter(committerName, committerEmail),
		localgit.WithDate(s.nextDate()))
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	return sha
}

// Merge records a merge of the heads of from into into (two parents, the
// tree of from) and returns its SHA, for tests of first-parent history.
func (s *Server) Merge(t testing.TB, repo, into, from, message string) string {
	t.Helper()
	env := s.nextDateEnv()
	first := strings.TrimSpace(s.mustRun(t, repo, env, "", "rev-parse", "refs/heads/"+into))
	second := strings.TrimSpace(s.mustRun(t, repo, env, "", "rev-parse", "refs/heads/"+from))
	tree := strings.TrimSpace(s.mustRun(t, repo, env, "", "rev-parse", second+"^{tree}"))
	sha := strings.TrimSpace(s.mustRun(t, repo, env, message, "commit-tree", tree, "-p", first, "-p", second, "-F", "-"))
	s.mustRun(t, repo, env, "", "update-ref", "refs/heads/"+into, sha, first)
	return sha
}

// Tag creates the lightweight tag tag pointing at sha.
func (s *Server) Tag(t testing.TB, repo, tag, sha string) {
	t.Helper()
	s.mustRun(t, repo, nil, "", "update-ref", "refs/tags/"+tag, sha, "")
}

// AnnotatedTag creates the annotated tag tag for sha, dated one minute after
// the previous commit or tag of the server, and returns the tag object's SHA.
func (s *Server) AnnotatedTag(t testing.TB, repo, tag, sha, message string) string {
	t.Helper()
	env := s.nextDateEnv()
	s.mustRun(t, repo, env, message, "tag", "--annotate", "--file=-", tag, sha)
	return strings.TrimSpace(s.mustRun(t, repo, env, "", "rev-parse", "refs/tags/"+tag))
}

// DeleteBranch removes branch from repo.
func (s *Server) DeleteBranch(t testing.TB, repo, branch string) {
	t.Helper()
	s.mustRun(t, repo, nil, "", "update-ref", "-d", "refs/heads/"+branch)
}

// BeforeNextPush makes the server call f once, before it handles the next
// push to repo: after the client has listed the refs and sent its update,
// before the update is applied. A test uses it to commit to the branch being
// pushed and so make the push lose a race, deterministically.
func (s *Server) BeforeNextPush(repo string, f func()) {
	s.setPushHook(repo, f, true)
}

// BeforeNextFetch makes the server call f once, before it handles the next
// fetch command of repo: after the client has listed the refs, before it
// receives objects. A test uses it to act while a listing is under way.
func (s *Server) BeforeNextFetch(repo string, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fetchHooks == nil {
		s.fetchHooks = map[string]func(){}
	}
	s.fetchHooks[repo] = f
}

// BeforeEachPush makes the server call f before it handles every later push
// to repo, until BeforeEachPush(repo, nil), for a branch that keeps moving.
func (s *Server) BeforeEachPush(repo string, f func()) {
	s.setPushHook(repo, f, false)
}

func (s *Server) setPushHook(repo string, f func(), once bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		delete(s.pushHooks, repo)
		return
	}
	s.pushHooks[repo] = pushHook{f: f, once: once}
}

// BranchHead returns the commit that branch of repo points at, or "" when
// the branch does not exist.
func (s *Server) BranchHead(t testing.TB, repo, branch string) string {
	t.Helper()
	out, err := s.run(s.Dir(repo), nil, "", "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// Show returns the content of path at ref (a branch, tag or commit) of repo,
// failing the test when it does not exist.
func (s *Server) Show(t testing.TB, repo, ref, path string) string {
	t.Helper()
	return s.mustRun(t, repo, nil, "", "show", ref+":"+path)
}

// LogEntry is one commit as Log reports it.
type LogEntry struct {
	SHA     string
	Parents []string
	Tree    string
	Author  string // "Name <email>"
	// Committer is "Name <email>".
	Committer string
	Subject   string
	// Message is the whole commit message, trailers included.
	Message string
	// Files are the paths the commit changed relative to its first parent.
	Files []string
}

// Log returns the commits reachable from ref in repo, newest first, with
// the files each changed.
func (s *Server) Log(t testing.TB, repo, ref string) []LogEntry {
	t.Helper()
	out := s.mustRun(t, repo, nil, "", "log", "--no-renames", "--first-parent", "--name-only", "-z",
		"--format=%x1e%H%x1f%P%x1f%T%x1f%an <%ae>%x1f%cn <%ce>%x1f%s%x1f%B%x1f", ref, "--")
	var entries []LogEntry
	for _, rec := range strings.Split(out, "\x1e") {
		if rec == "" {
			continue
		}
		f := strings.SplitN(rec, "\x1f", 8)
		if len(f) != 8 {
			t.Fatalf("gitserver: unexpected log record %q", rec)
		}
		e := LogEntry{SHA: f[0], Parents: strings.Fields(f[1]), Tree: f[2], Author: f[3], Committer: f[4], Subject: f[5], Message: f[6]}
		for _, name := range strings.Split(f[7], "\x00") {
			if name = strings.TrimPrefix(name, "\n"); name != "" {
				e.Files = append(e.Files, name)
			}
		}
		entries = append(entries, e)
	}
	return entries
}

// Git runs git with args in repo's bare repository, feeding it stdin, and
// returns its standard output. Tests use it for bulk set-up, such as
// creating thousands of tags with `update-ref --stdin`.
func (s *Server) Git(t testing.TB, repo, stdin string, args ...string) string {
	t.Helper()
	return s.mustRun(t, repo, nil, stdin, args...)
}

func (s *Server) mustRun(t testing.TB, repo string, env []string, stdin string, args ...string) string {
	t.Helper()
	out, err := s.run(s.Dir(repo), env, stdin, args...)
	if err != nil {
		t.Fatalf("gitserver: git %s in %s: %v: %s", strings.Join(args, " "), repo, err, out)
	}
	return out
}

func (s *Server) run(dir string, env []string, stdin string, args ...string) (string, error) {
	cmd := exec.Command(s.git, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"HOME="+s.root,
		"GIT_AUTHOR_NAME="+authorName, "GIT_AUTHOR_EMAIL="+authorEmail,
		"GIT_COMMITTER_NAME="+committerName, "GIT_COMMITTER_EMAIL="+committerEmail,
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// The identities of the commits and tags a test makes.
const (
	authorName     = "Test Author"
	authorEmail    = "author@example.com"
	committerName  = "Test Committer"
	committerEmail = "committer@example.com"
)

// nextDate advances the server's clock by a minute and returns it.
func (s *Server) nextDate() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = s.clock.Add(time.Minute)
	return s.clock
}

func (s *Server) nextDateEnv() []string {
	date := fmt.Sprintf("@%d +0000", s.nextDate().Unix())
	return []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}
}

func (s *Server) handler(backend http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, kind := classify(r)
		if kind == kindFetchOrLsRefs {
			// The command of a v2 request is in its body; read it whole and
			// hand the backend an identical, non-chunked copy.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.TransferEncoding = nil
			kind = uploadPackCommand(body, r.Header.Get("Content-Encoding"))
		}
		if !s.authorized(r) {
			s.count(repo, func(c *Counts) { c.Unauthorized++ })
			w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.count(repo, func(c *Counts) {
			s.requests[repo]++
			switch kind {
			case kindInfoRefs:
				c.InfoRefs++
			case kindLsRefs:
				c.LsRefs++
			case kindFetch:
				c.Fetches++
			case kindPush:
				c.Pushes++
			}
		})
		s.mu.Lock()
		fail := s.fail
		hook, hooked := s.pushHooks[repo]
		if hooked && kind == kindPush && hook.once {
			delete(s.pushHooks, repo)
		}
		fetchHook := s.fetchHooks[repo]
		if kind == kindFetch && fetchHook != nil {
			delete(s.fetchHooks, repo)
		} else {
			fetchHook = nil
		}
		s.mu.Unlock()
		if fail != 0 {
			http.Error(w, http.StatusText(fail), fail)
			return
		}
		if fetchHook != nil {
			fetchHook()
		}
		if hooked && kind == kindPush {
			// The client has listed the refs and sent its update; a hook
			// that moves a branch now makes that update lose a race.
			hook.f()
		}
		backend.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.username == "" && s.cfg.password == "" {
		return true
	}
	u, p, ok := r.BasicAuth()
	return ok &&
		subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.password)) == 1
}

func (s *Server) count(repo string, f func(*Counts)) {
	if repo == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts[repo]
	if c == nil {
		c = &Counts{}
		s.counts[repo] = c
	}
	f(c)
}

type requestKind int

const (
	kindOther requestKind = iota
	kindInfoRefs
	kindFetchOrLsRefs
	kindLsRefs
	kindFetch
	kindPush
)

// classify names the repository a request is for (its path without ".git")
// and what kind of smart-HTTP request it is.
func classify(r *http.Request) (string, requestKind) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case strings.HasSuffix(p, "/info/refs"):
		repo := strings.TrimSuffix(strings.TrimSuffix(p, "/info/refs"), ".git")
		if r.URL.Query().Get("service") == "git-upload-pack" {
			return repo, kindInfoRefs
		}
		return repo, kindOther
	case strings.HasSuffix(p, "/git-upload-pack") && r.Method == http.MethodPost:
		return strings.TrimSuffix(strings.TrimSuffix(p, "/git-upload-pack"), ".git"), kindFetchOrLsRefs
	case strings.HasSuffix(p, "/git-receive-pack") && r.Method == http.MethodPost:
		return strings.TrimSuffix(strings.TrimSuffix(p, "/git-receive-pack"), ".git"), kindPush
	}
	return "", kindOther
}

// uploadPackCommand tells a v2 ls-refs from a fetch. A v0 request has no
// command line and is always a fetch negotiation.
func uploadPackCommand(body []byte, encoding string) requestKind {
	if encoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return kindFetch
		}
		if body, err = io.ReadAll(zr); err != nil {
			return kindFetch
		}
	}
	// The first pkt-line is 4 hex digits of length, then the payload.
	if len(body) > 4 && bytes.HasPrefix(body[4:], []byte("command=ls-refs")) {
		return kindLsRefs
	}
	return kindFetch
}
