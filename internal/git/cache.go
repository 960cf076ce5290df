package git

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/singleflight"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// Options configure a Cache. The zero value is ready to use.
type Options struct {
	// GitBinary is the git executable; "git", looked up in PATH, when
	// empty.
	GitBinary string
	// Env holds extra environment variables for every git process, such as
	// HTTPS_PROXY or GIT_SSH_COMMAND. The variables that isolate git from
	// the host (HOME, GIT_CONFIG_*, GIT_TERMINAL_PROMPT and so on) are set
	// after these and win.
	Env []string
	// CAFile is a PEM bundle that git trusts for HTTPS (http.sslCAInfo)
	// instead of the system's, for hosts with a private CA and for tests.
	CAFile string
	// Now returns the current time; time.Now when nil. Tests pass a fake
	// clock to step over maxAge without sleeping.
	Now func() time.Time
	// Timeout bounds one refresh (clone or fetch) of one repository; two
	// minutes when zero.
	Timeout time.Duration
	// HistoryDepth is how many first-parent commits of a branch are
	// examined for includePaths and excludePaths before giving up with
	// ErrNoMatch; 1000 when zero.
	HistoryDepth int
	// AllowFileURLs permits file:// repository URLs, for tests and for a
	// single-user `kargo local`. They are refused by default because on a
	// shared controller they would let any project read repositories on
	// the controller's disk, other projects' mirrors included.
	AllowFileURLs bool
	// Egress is the outbound address policy git's connections go through
	// (by way of its proxy, or a tunnel for ssh); nil means egress.New
	// with no rules, which reaches public addresses only.
	Egress *egress.Policy
	// SSHBinary is the ssh client git runs for ssh remotes; "ssh", looked
	// up in PATH, when empty.
	SSHBinary string
	// CoalesceWindow is how long after a refresh request (InvalidateBefore)
	// the listing that serves it may wait, so that the requests made
	// within the window (a hundred Warehouses refreshed one after another,
	// say) share it; DefaultCoalesceWindow when zero, none when negative.
	CoalesceWindow time.Duration
	// CheckoutMaxAge lets Checkout use the mirror's refs without fetching
	// when a fetch of the mirror (by Discover, Checkout or a push that was
	// refused) started less than CheckoutMaxAge ago, or, for a branch, this
	// process pushed it less than CheckoutMaxAge ago, and no refresh was
	// requested since (Invalidate, InvalidateBefore): a Warehouse that just
	// found a commit, or the last Promotion into a branch, leaves a mirror
	// the next Promotion needs no fetch for. A
	// branch checked out to be pushed to is safe either way (a push onto a
	// stale head is refused, then fetched and replayed); a branch checked
	// out only to be read may be up to CheckoutMaxAge older than the
	// host's. Zero fetches on every Checkout.
	CheckoutMaxAge time.Duration
}

// DefaultCheckoutMaxAge is the CheckoutMaxAge of the controller: shorter
// than any Warehouse's discovery interval, long enough for the Promotions
// that follow a discovery or a webhook.
const DefaultCheckoutMaxAge = 10 * time.Second

// DefaultCoalesceWindow is the CoalesceWindow of a Cache whose Options do
// not say: short against the few hundred milliseconds a refresh takes end
// to end, long enough to gather the requests of one burst.
const DefaultCoalesceWindow = 30 * time.Millisecond

// Stats counts the network operations of one repository since the Cache
// was created, summed over its mirrors. The fetches that Commit makes
// before it edits count like Discover's; the fetches of file contents and
// the pushes of Commit are not counted.
type Stats struct {
	// LsRemotes counts listings of the remote's refs: every clone, fetch
	// and ls-remote, each of which is one git network operation.
	LsRemotes int64
	// Fetches counts listings that changed the mirror's refs, and so
	// fetched any objects that the mirror lacked.
	Fetches int64
}

// Cache discovers commits and tags of Git repositories through bare,
// blob-less mirrors that it keeps under one directory, one per repository
// (and per set of credentials). Its methods are safe for concurrent use;
// one process at a time may use a directory.
type Cache struct {
	opts       Options
	mirrorsDir string
	tmpDir     string
	homeDir    string

	initOnce sync.Once
	initErr  error
	credKey  []byte

	mu      sync.Mutex
	entries map[string]*entry
	byRepo  map[string][]*entry

	selections singleflight.Group

	// branchLocks serialize commits to one branch (write.go); guarded by
	// mu. slots bound the commits under way.
	branchLocks map[string]*branchLock
	slotsOnce   sync.Once
	slots       chan struct{}

	// trees are the work trees of Checkout kept for reuse (treepool.go).
	trees treePool
	// procs counts the git processes started.
	procs atomic.Int64
}

// Processes returns the number of git processes the Cache has started, so
// that benchmarks can count them per operation.
func (c *Cache) Processes() int64 {
	return c.procs.Load()
}

// NewCache returns a Cache that keeps its mirrors under dir. The directory
// is created on first use, and errors creating it are returned by Discover.
func NewCache(dir string, opts Options) *Cache {
	if opts.GitBinary == "" {
		opts.GitBinary = "git"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.HistoryDepth <= 0 {
		opts.HistoryDepth = 1000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Egress == nil {
		opts.Egress = egress.New(egress.Options{})
	}
	if opts.CoalesceWindow == 0 {
		opts.CoalesceWindow = DefaultCoalesceWindow
	}
	return &Cache{
		opts:       opts,
		mirrorsDir: filepath.Join(dir, "mirrors"),
		tmpDir:     filepath.Join(dir, "tmp"),
		homeDir:    filepath.Join(dir, "home"),
		entries:    map[string]*entry{},
		byRepo:     map[string][]*entry{},
	}
}

// entry is one mirror: a repository as seen with one set of credentials and
// one TLS setting.
type entry struct {
	key           string
	repo          string
	remote        remote
	skipTLSVerify bool
	dir           string

	// mu is held while the mirror changes on disk. Reading a mirror (log,
	// for-each-ref) needs no lock: git updates refs and adds packs
	// atomically.
	mu sync.Mutex
	// headResolvedFor is the remote HEAD commit for which the default
	// branch was last looked up, so that a HEAD pointing at no branch
	// costs one ls-remote, not one per refresh. Guarded by mu.
	headResolvedFor string
	// syncStarted numbers the syncs (clones and fetches) of the mirror as
	// they start; syncedSeq is the number of the last one that succeeded
	// and local the refs it left, updated by pushes since. A commit that
	// began after sync n started may use the mirror as it is once
	// syncedSeq > n, instead of fetching again. syncedSeq and local are
	// guarded by mu.
	syncStarted atomic.Uint64
	syncedSeq   uint64
	local       *snapshot
	// syncedAt is when the sync that made local started, and pushedAt
	// when this process last pushed each branch (recordPush): the mirror
	// knows the branch as of then. Guarded by mu.
	syncedAt time.Time
	pushedAt map[string]time.Time
	// refreshAsked is the latest time a refresh was requested at
	// (Invalidate, InvalidateBefore); guarded by state.
	refreshAsked time.Time

	// write is the state of commits and pushes (write.go).
	write writeState

	// state guards the fields below. Listings are numbered as they start
	// (nextSeq is the number of the next one); a caller may use the last
	// finished listing (listedSeq, begun at listedAt) when its number is
	// at least required and it is younger than the caller's maxAge. A
	// refresh request raises required to the first listing that began
	// after the request was made: one under way, or the next.
	state     sync.Mutex
	nextSeq   uint64
	required  uint64
	listedSeq uint64
	listedAt  time.Time
	// running is the listing under way, pending the next one, which waits
	// for running to end (and for its coalescing window) before it
	// starts. Callers join one of them rather than starting their own.
	running, pending *flight
	// windowUntil delays the start of the listing numbered windowSeq, so
	// that refresh requests made within CoalesceWindow of the first share
	// it.
	windowSeq   uint64
	windowUntil time.Time
	err         error
	snap        *snapshot
	results     map[string]selection
	// histories are the branch histories of snap that path-filtered
	// selections share, by head commit (history.go).
	histories map[string]*history

	lsRemotes atomic.Int64
	fetches   atomic.Int64
}

// selection is the outcome of one selection on one snapshot. Only outcomes
// that depend on nothing but the snapshot are kept: commits, ErrNoMatch and
// a missing branch.
type selection struct {
	commits []kargoapi.GitCommit
	err     error
}

// maxResults bounds the selections kept per mirror; beyond it they are
// recomputed, which costs a local git log, not a network operation.
const maxResults = 1024

// Discover returns up to limit candidate commits for sub, newest first:
// index 0 is the one a Warehouse picks. It lists the remote's refs only when
// the last listing of this repository (by any caller) is older than maxAge or
// Invalidate was called since, and fetches only when the listing shows
// changes. Errors wrap the sourceerr sentinels: ErrInvalid for an unusable
// subscription, ErrInsecureCredentials, ErrUnauthorized, ErrNotFound,
// ErrUnreachable, and ErrNoMatch when the repository has commits or tags but
// none passes the subscription's filters.
func (c *Cache) Discover(ctx context.Context, sub kargoapi.GitSubscription, creds *credentials.Credentials, limit int, maxAge time.Duration) ([]kargoapi.GitCommit, error) {
	if limit < 1 {
		limit = 1
	}
	sel, err := newSelector(sub)
	if err != nil {
		return nil, fmt.Errorf("discover commits of %s: %w", Redact(string(sub.RepoURL)), err)
	}
	r, err := parseRemote(string(sub.RepoURL), creds)
	if err != nil {
		return nil, err
	}
	if err := r.checkTransport(); err != nil {
		return nil, err
	}
	if msg := c.unsupported(r); msg != "" {
		return nil, fmt.Errorf("discover commits of %s: %w: %s", r.url, sourceerr.ErrInvalid, msg)
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	e := c.entryFor(r, sub.InsecureSkipTLSVerify)
	snap, err := c.refreshed(ctx, e, maxAge)
	if err != nil {
		return nil, err
	}
	commits, err := c.selectCommits(ctx, e, snap, sel, limit)
	if err != nil {
		return nil, err
	}
	out := make([]kargoapi.GitCommit, len(commits))
	for i := range commits {
		out[i] = commits[i]
		out[i].RepoURL = string(sub.RepoURL)
	}
	return out, nil
}

// unsupported says why the cache will not connect to r, or "" when it
// will. Connections go through the egress policy: http and https through
// its proxy, ssh through a tunnel (ssh.go). git:// has neither
// authentication nor integrity and is refused.
func (c *Cache) unsupported(r remote) string {
	switch {
	case r.scheme == "file" && !c.opts.AllowFileURLs:
		return "file:// repositories are disabled on this controller"
	case r.scheme == "git":
		return "git:// repositories are not supported: use https:// or ssh:// (with credentials from a git credential Secret)"
	case r.scheme == "ssh" && r.creds == nil:
		return "an ssh repository needs a git credential Secret of the project whose repoURL matches " + r.url + " and that holds sshPrivateKey and knownHosts"
	case r.scheme == "ssh" && len(bytes.TrimSpace(r.creds.KnownHosts)) == 0:
		return "the git credential Secret for " + r.url + " has no knownHosts: kargo connects only to SSH hosts whose keys the Secret lists; add the host's known_hosts line (such as the output of ssh-keyscan, checked against the fingerprints the host publishes)"
	}
	return ""
}

// Invalidate makes the next Discover of repoURL list the remote's refs
// again, whatever its maxAge: a webhook said that the repository changed.
// A listing already under way when Invalidate is called does not count.
func (c *Cache) Invalidate(repoURL string) {
	now := c.opts.Now()
	for _, e := range c.entriesOf(repoURL) {
		e.state.Lock()
		e.require(e.nextSeqLocked())
		if now.After(e.refreshAsked) {
			e.refreshAsked = now
		}
		e.state.Unlock()
	}
}

// InvalidateBefore says that repoURL changed at t (a refresh was requested
// then): a listing that began at or after t serves the request, whether it has
// finished, is under way, or is the next one. So when a push, or a burst of
// refresh requests, refreshes a hundred subscribers of one repository, they
// share one listing; the next listing waits up to CoalesceWindow after t
// for more requests to join it. t comes from the clock of whoever made the
// request (the webhook receiver, the API server), which must agree with
// this process's clock to within the time between a push and its refresh.
func (c *Cache) InvalidateBefore(repoURL string, t time.Time) {
	for _, e := range c.entriesOf(repoURL) {
		e.state.Lock()
		if t.After(e.refreshAsked) {
			e.refreshAsked = t
		}
		switch {
		case e.listedSeq != 0 && !e.listedAt.Before(t):
			e.require(e.listedSeq)
		case e.running != nil && !e.running.start.Before(t):
			e.require(e.running.seq)
		default:
			next := e.nextSeqLocked()
			e.require(next)
			if e.windowSeq != next && c.opts.CoalesceWindow > 0 {
				e.windowSeq, e.windowUntil = next, t.Add(c.opts.CoalesceWindow)
			}
		}
		e.state.Unlock()
	}
}

// nextSeqLocked is the number the next listing will have.
func (e *entry) nextSeqLocked() uint64 {
	if e.nextSeq == 0 {
		e.nextSeq = 1
	}
	return e.nextSeq
}

func (e *entry) require(seq uint64) {
	if seq > e.required {
		e.required = seq
	}
}

// entriesOf returns the mirrors of repoURL, one per set of credentials and
// TLS setting.
func (c *Cache) entriesOf(repoURL string) []*entry {
	r, err := parseRemote(repoURL, nil)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*entry(nil), c.byRepo[r.key]...)
}

// Stats returns the network operations made for repoURL so far.
func (c *Cache) Stats(repoURL string) Stats {
	var s Stats
	r, err := parseRemote(repoURL, nil)
	if err != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.byRepo[r.key] {
		s.LsRemotes += e.lsRemotes.Load()
		s.Fetches += e.fetches.Load()
	}
	return s
}

func (c *Cache) init() error {
	c.initOnce.Do(func() {
		for _, d := range []string{c.mirrorsDir, c.tmpDir, c.homeDir} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				c.initErr = fmt.Errorf("create git cache directory: %w", err)
				return
			}
		}
		// Half-done clones of an earlier process.
		if stale, err := os.ReadDir(c.tmpDir); err == nil {
			for _, s := range stale {
				_ = os.RemoveAll(filepath.Join(c.tmpDir, s.Name()))
			}
		}
		c.credKey, c.initErr = loadOrCreateKey(filepath.Join(filepath.Dir(c.mirrorsDir), "credential-key"))
	})
	return c.initErr
}

// loadOrCreateKey keeps the key that turns credentials into mirror names.
// A keyed hash, rather than a plain one, keeps the directory listing from
// being a list of password hashes to guess at; keeping the key on disk lets
// mirrors survive a restart.
func loadOrCreateKey(path string) ([]byte, error) {
	if key, err := os.ReadFile(path); err == nil && len(key) == 32 {
		return key, nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create credential key: %w", err)
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("create credential key: %w", err)
	}
	return key, nil
}

func (c *Cache) entryFor(r remote, insecure bool) *entry {
	credID := "anonymous"
	if r.creds != nil {
		mac := hmac.New(sha256.New, c.credKey)
		parts := [][]byte{[]byte(r.creds.Username), []byte(r.creds.Password), r.creds.SSHPrivateKey, r.creds.KnownHosts}
		if app := r.creds.GitHubApp; app != nil {
			// Its tokens change every hour; the installation does not.
			parts = [][]byte{[]byte("github-app"), []byte(app.BaseURL), []byte(app.AppID), []byte(app.InstallationID), app.PrivateKey}
		}
		for _, part := range parts {
			// Length-prefixed, so that no two sets of parts hash alike.
			mac.Write([]byte(strconv.Itoa(len(part)) + ":"))
			mac.Write(part)
		}
		credID = hex.EncodeToString(mac.Sum(nil))
	}
	key := r.key + "\x00" + credID + "\x00" + strconv.FormatBool(insecure)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil {
		return e
	}
	sum := sha256.Sum256([]byte(key))
	e := &entry{
		key:           key,
		repo:          r.key,
		remote:        r,
		skipTLSVerify: insecure,
		dir:           filepath.Join(c.mirrorsDir, hex.EncodeToString(sum[:16])+".git"),
	}
	c.entries[key] = e
	c.byRepo[r.key] = append(c.byRepo[r.key], e)
	return e
}

func (e *entry) freshLocked(now time.Time, maxAge time.Duration) bool {
	return e.listedSeq != 0 && e.listedSeq >= e.required && now.Sub(e.listedAt) < maxAge
}

// flight is one listing (and fetch) of a mirror, shared by every caller
// that joins it. seq and start are set when it starts; snap and err when
// done is closed.
type flight struct {
	seq   uint64
	start time.Time
	done  chan struct{}
	snap  *snapshot
	err   error
}

// refreshed returns the mirror's snapshot, refreshing it first unless the
// last listing is recent enough. Callers that need a refresh at the same
// time share one: the listing under way when it began late enough for them,
// or else the next one. Each can still give up on its own context.
func (c *Cache) refreshed(ctx context.Context, e *entry, maxAge time.Duration) (*snapshot, error) {
	e.state.Lock()
	if e.freshLocked(c.opts.Now(), maxAge) {
		snap, err := e.snap, e.err
		e.state.Unlock()
		return snap, err
	}
	f := e.running
	if f == nil || f.seq < e.required {
		if f = e.pending; f == nil {
			f = &flight{done: make(chan struct{})}
			e.pending = f
			// The listing outlives a caller that gives up, because others
			// may be waiting for it; it keeps the caller's values, such as
			// its logger.
			go c.fly(context.WithoutCancel(ctx), e, f)
		}
	}
	e.state.Unlock()
	select {
	case <-f.done:
		return f.snap, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("list refs of %s: %w", e.remote.url, ctx.Err())
	}
}

// fly runs the pending listing f once the one under way has ended and its
// coalescing window has passed.
func (c *Cache) fly(ctx context.Context, e *entry, f *flight) {
	e.state.Lock()
	until := time.Time{}
	if e.windowSeq == e.nextSeqLocked() {
		until = e.windowUntil
	}
	e.state.Unlock()
	if d := until.Sub(c.opts.Now()); d > 0 {
		t := time.NewTimer(d)
		<-t.C
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.Lock()
	f.seq, f.start = e.nextSeqLocked(), c.opts.Now()
	e.nextSeq++
	e.pending, e.running = nil, f
	prev := e.snap
	e.state.Unlock()

	sctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	began := time.Now()
	snap, err := c.sync(sctx, e, prev)
	changed := err == nil && (prev == nil || snap.digest != prev.digest)
	logr.FromContextOrDiscard(ctx).V(1).Info("refreshed git mirror",
		"repoURL", e.remote.url, "changed", changed, "duration", time.Since(began), "error", err)

	e.state.Lock()
	e.listedSeq, e.listedAt, e.err = f.seq, f.start, err
	if changed {
		e.snap, e.results = snap, nil
		e.keepHistoriesLocked(snap)
	}
	if err == nil {
		f.snap = e.snap
	}
	f.err = err
	e.running = nil
	e.state.Unlock()
	close(f.done)
}

// sync brings the mirror up to date with the remote: a blob-less clone the
// first time, then one fetch of branch heads and tags per refresh. The
// caller holds e.mu.
func (c *Cache) sync(ctx context.Context, e *entry, prev *snapshot) (*snapshot, error) {
	seq := e.syncStarted.Add(1)
	started := c.opts.Now()
	snap, err := c.syncMirror(ctx, e, prev)
	if err == nil {
		e.syncedSeq, e.local, e.syncedAt = seq, snap, started
	}
	return snap, err
}

func (c *Cache) syncMirror(ctx context.Context, e *entry, prev *snapshot) (*snapshot, error) {
	cfg := c.networkConfig(e.remote, e.skipTLSVerify)
	cloned := !isMirror(e.dir)
	if cloned {
		if err := c.clone(ctx, e, cfg); err != nil {
			return nil, err
		}
	} else {
		if prev == nil {
			// First refresh of a mirror left by an earlier process: learn
			// its state so that Stats counts only real changes.
			p, err := c.readSnapshot(ctx, e.dir, nil)
			if err != nil {
				return nil, err
			}
			prev = p
		}
		if err := c.fetch(ctx, e, cfg); err != nil {
			return nil, err
		}
	}
	snap, err := c.readSnapshot(ctx, e.dir, prev)
	if err != nil {
		return nil, err
	}
	if snap.remoteHead != "" && snap.heads[snap.defaultBranch] != snap.remoteHead && snap.remoteHead != e.headResolvedFor {
		// The remote's HEAD moved away from the branch the mirror calls
		// default: the host's default branch was changed or renamed.
		if err := c.resolveHead(ctx, e, cfg, snap); err != nil {
			return nil, err
		}
		if snap, err = c.readSnapshot(ctx, e.dir, prev); err != nil {
			return nil, err
		}
	}
	if cloned || prev.digest != snap.digest {
		e.fetches.Add(1)
	}
	return snap, nil
}

func isMirror(dir string) bool {
	for _, f := range []string{"HEAD", "objects", "refs", "config"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// clone creates the mirror in a scratch directory and renames it into
// place, so a clone cut short never leaves a mirror that looks complete.
func (c *Cache) clone(ctx context.Context, e *entry, cfg map[string]string) error {
	_ = os.RemoveAll(e.dir)
	tmp, err := os.MkdirTemp(c.tmpDir, "clone-")
	if err != nil {
		return fmt.Errorf("clone %s: %w", e.remote.url, err)
	}
	defer os.RemoveAll(tmp)
	target := filepath.Join(tmp, "mirror.git")
	e.lsRemotes.Add(1)
	stderr, err := c.runNet(ctx, e.remote, cfg, gitRun{
		dir:  tmp,
		args: []string{"clone", "--bare", "--quiet", "--filter=blob:none", "--", e.remote.url, target},
	})
	if err != nil {
		return networkError(ctx, "clone", e.remote, stderr, err)
	}
	// Without a URL, a command that needs a missing blob fails instead of
	// fetching it (anonymously) behind the cache's back; fetches pass the
	// URL in the environment.
	if _, err := c.output(ctx, target, nil, "config", "--unset", "remote.origin.url"); err != nil {
		return fmt.Errorf("clone %s: %w", e.remote.url, err)
	}
	if err := os.Rename(target, e.dir); err != nil {
		return fmt.Errorf("clone %s: %w", e.remote.url, err)
	}
	return nil
}

// fetchRefspecs are the refs a mirror keeps. "HEA*" is a pattern so that a
// remote whose HEAD points nowhere is not an error; it records the commit
// of the remote's HEAD in refs/kargo/HEAD.
var fetchRefspecs = []string{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", "+HEA*:refs/kargo/HEA*"}

// fetch lists the remote's branch heads and tags and fetches whatever the
// mirror lacks. When nothing changed, git downloads no objects and the
// whole operation is one small round trip.
func (c *Cache) fetch(ctx context.Context, e *entry, cfg map[string]string) error {
	cfg["remote.origin.url"] = e.remote.url
	e.lsRemotes.Add(1)
	args := append([]string{"fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head", "origin"}, fetchRefspecs...)
	stderr, err := c.runNet(ctx, e.remote, cfg, gitRun{dir: e.dir, args: args})
	if err != nil {
		return networkError(ctx, "fetch", e.remote, stderr, err)
	}
	return nil
}

// resolveHead asks the remote which branch its HEAD names and points the
// mirror's HEAD there. A remote that does not say (a detached HEAD, an old
// server) gets the branch whose commit HEAD has, preferring main and
// master.
func (c *Cache) resolveHead(ctx context.Context, e *entry, cfg map[string]string, snap *snapshot) error {
	cfg["remote.origin.url"] = e.remote.url
	e.lsRemotes.Add(1)
	var stdout strings.Builder
	stderr, err := c.runNet(ctx, e.remote, cfg, gitRun{
		dir:    e.dir,
		stdout: &stdout,
		args:   []string{"ls-remote", "--symref", "origin", "HEAD"},
	})
	if err != nil {
		return networkError(ctx, "ls-remote", e.remote, stderr, err)
	}
	e.headResolvedFor = snap.remoteHead
	target := ""
	for _, line := range strings.Split(stdout.String(), "\n") {
		// "ref: refs/heads/main<TAB>HEAD"
		rest, ok := strings.CutPrefix(line, "ref: ")
		if !ok {
			continue
		}
		if ref, name, ok := strings.Cut(rest, "\t"); ok && name == "HEAD" && strings.HasPrefix(ref, "refs/heads/") {
			target = ref
		}
	}
	if target == "" {
		var candidates []string
		for b, sha := range snap.heads {
			if sha == snap.remoteHead {
				candidates = append(candidates, b)
			}
		}
		sort.SliceStable(candidates, func(i, j int) bool { return branchRank(candidates[i]) < branchRank(candidates[j]) })
		if len(candidates) == 0 {
			return nil
		}
		target = "refs/heads/" + candidates[0]
	}
	if _, err := c.output(ctx, e.dir, nil, "symbolic-ref", "HEAD", target); err != nil {
		return fmt.Errorf("record default branch of %s: %w", e.remote.url, err)
	}
	return nil
}

func branchRank(b string) string {
	switch b {
	case "main":
		return "0"
	case "master":
		return "1"
	}
	return "2" + b
}

// selectCommits applies sel to snap. Subscribers with the same selection
// share one computation per snapshot, so 57 Warehouses with one spec cost
// one git log per change of the repository, not 57 per poll.
func (c *Cache) selectCommits(ctx context.Context, e *entry, snap *snapshot, sel *selector, limit int) ([]kargoapi.GitCommit, error) {
	rkey := sel.key + "\x00" + strconv.Itoa(limit)
	e.state.Lock()
	if e.snap == snap {
		if s, ok := e.results[rkey]; ok {
			e.state.Unlock()
			return s.commits, s.err
		}
	}
	e.state.Unlock()
	ch := c.selections.DoChan(e.key+"\x00"+hex.EncodeToString(snap.digest[:])+"\x00"+rkey, func() (any, error) {
		// Like a refresh, the computation is shared and outlives the caller
		// that started it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
		defer cancel()
		commits, err := c.compute(fctx, e, snap, sel, limit)
		if err == nil || errors.Is(err, sourceerr.ErrNoMatch) || errors.Is(err, sourceerr.ErrNotFound) {
			e.state.Lock()
			if e.snap == snap {
				if e.results == nil || len(e.results) >= maxResults {
					e.results = map[string]selection{}
				}
				e.results[rkey] = selection{commits: commits, err: err}
			}
			e.state.Unlock()
		}
		return commits, err
	})
	select {
	case res := <-ch:
		commits, _ := res.Val.([]kargoapi.GitCommit)
		return commits, res.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("select commits of %s: %w", e.remote.url, ctx.Err())
	}
}

func (c *Cache) compute(ctx context.Context, e *entry, snap *snapshot, sel *selector, limit int) ([]kargoapi.GitCommit, error) {
	url := e.remote.url
	if sel.strategy != kargoapi.CommitSelectionNewestFromBranch {
		tags, err := c.loadTags(ctx, e.dir, snap)
		if err != nil {
			return nil, err
		}
		if len(tags) == 0 {
			return nil, fmt.Errorf("select tag of %s: %w: the repository has no tags", url, sourceerr.ErrNoMatch)
		}
		picked, err := selectTags(tags, sel, limit)
		if err != nil {
			return nil, fmt.Errorf("select tag of %s: %w", url, err)
		}
		out := make([]kargoapi.GitCommit, len(picked))
		for i, t := range picked {
			out[i] = kargoapi.GitCommit{ID: t.commit, Tag: t.name, Message: t.subject, Author: t.author}
		}
		return out, nil
	}

	branch := sel.branch
	if branch == "" {
		branch = snap.defaultBranch
		if _, ok := snap.heads[branch]; !ok {
			return nil, fmt.Errorf("find default branch of %s: %w: the repository has no commits or its HEAD names no branch; set branch in the subscription", url, sourceerr.ErrNotFound)
		}
	}
	head, ok := snap.heads[branch]
	if !ok {
		return nil, fmt.Errorf("find branch %q of %s: %w: check the subscription's branch", branch, url, sourceerr.ErrNotFound)
	}
	var commits []logCommit
	var scanned int
	var err error
	if sel.paths == nil {
		commits, err = c.branchHistory(ctx, e.dir, head, limit)
	} else {
		commits, scanned, err = e.historyOf(snap, head).match(ctx, c, e.dir, sel.paths, limit, c.opts.HistoryDepth)
	}
	if err != nil {
		return nil, fmt.Errorf("read history of branch %q of %s: %w", branch, url, err)
	}
	if len(commits) == 0 {
		return nil, fmt.Errorf("select commit of branch %q of %s: %w: none of the last %d commits changes a file that matches includePaths %q and not excludePaths %q",
			branch, url, sourceerr.ErrNoMatch, scanned, sel.sub.IncludePaths, sel.sub.ExcludePaths)
	}
	out := make([]kargoapi.GitCommit, len(commits))
	for i, lc := range commits {
		out[i] = kargoapi.GitCommit{ID: lc.id, Branch: branch, Message: lc.subject, Author: lc.author}
	}
	return out, nil
}
