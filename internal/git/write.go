package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// CommitRequest describes one commit that Cache.Commit makes and pushes.
type CommitRequest struct {
	// RepoURL is the repository, as in a subscription.
	RepoURL string
	// Creds are the credentials to read and push with; nil for anonymous.
	Creds *credentials.Credentials
	// InsecureSkipTLSVerify turns off TLS verification for this
	// repository.
	InsecureSkipTLSVerify bool
	// ReadRef is where the content comes from: a branch name or a full
	// commit SHA. Empty means WriteBranch itself (an edit in place), or the
	// remote's default branch while WriteBranch does not exist.
	ReadRef string
	// WriteBranch receives the commit. It is created when missing, and its
	// first commit's parent is then ReadRef's commit.
	WriteBranch string
	// Apply edits the checked-out tree in dir, a scratch copy of ReadRef's
	// content that is valid only during the call, and returns one line per
	// change for the commit body. It runs again, on fresh content, after a
	// push loses a race, so it must be idempotent and depend only on the
	// files. Repository-relative paths should go through ResolveInRepo.
	Apply func(ctx context.Context, dir string) ([]string, error)
	// Subject is the commit's subject line.
	Subject string
	// Trailers are written as git trailers ("Key: value") at the end of
	// the message, in this order.
	Trailers [][2]string
	// IdempotencyTrailer, such as {"Kargo-Promotion", uid}, makes Commit
	// do nothing when one of the last 50 commits of WriteBranch already
	// carries it: a controller that crashed between pushing and recording
	// the push finishes with exactly one commit. It is added to Trailers
	// when missing there. Zero means no check.
	IdempotencyTrailer [2]string
	// AuthorName and AuthorEmail are the commit's author and committer;
	// "Kargo" and "kargo@localhost" when empty.
	AuthorName, AuthorEmail string
	// MaxAttempts bounds the pushes tried when others push to WriteBranch
	// at the same time; 5 when zero.
	MaxAttempts int
}

// CommitResult is what Commit did.
type CommitResult struct {
	// Commit is the head of WriteBranch after Commit: the new commit; the
	// existing head when nothing changed (ReadRef's commit when a missing
	// WriteBranch was created there); or, with AlreadyDone, the commit that
	// carries the IdempotencyTrailer.
	Commit string
	// Changed is true when a new commit was pushed.
	Changed bool
	// AlreadyDone is true when WriteBranch already had a commit with the
	// IdempotencyTrailer, so nothing was pushed.
	AlreadyDone bool
	// Attempts counts the rounds of fetch, edit and push, 1 unless a push
	// lost a race.
	Attempts int
}

// ErrPushConflict means every push that Commit tried was rejected because
// the branch moved in the meantime. Retrying later usually succeeds.
var ErrPushConflict = errors.New("the branch kept changing during the push")

// ErrInvalidRequest means a CommitRequest cannot be used as it is; retrying
// does not help.
var ErrInvalidRequest = errors.New("invalid commit request")

const (
	defaultMaxAttempts = 5
	// idempotencyDepth is how many commits of WriteBranch are searched for
	// the IdempotencyTrailer.
	idempotencyDepth = 50
	defaultAuthor    = "Kargo"
	defaultEmail     = "kargo@localhost"
	// maxHydrated bounds the trees remembered as having all their file
	// contents in a mirror.
	maxHydrated = 256
)

// writeState is the per-mirror state of commits: the trees whose blobs are
// known to be in the mirror, and idle work trees.
type writeState struct {
	mu       sync.Mutex
	hydrated map[string]bool
	idle     []*worktree
	// trees maps commits to their trees, as checkouts and pushes learned
	// them.
	trees map[string]string
}

func (s *writeState) treeOf(commit string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trees[commit]
}

func (s *writeState) rememberTree(commit, tree string) {
	if commit == "" || tree == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trees == nil || len(s.trees) >= maxHydrated {
		s.trees = map[string]string{}
	}
	s.trees[commit] = tree
}

// branchLock serializes the commits of one Cache to one branch of one
// repository: they would otherwise only reject each other's pushes.
type branchLock struct {
	ch   chan struct{}
	refs int
}

// Commit checks out req.ReadRef's content, lets req.Apply edit it, and
// pushes the result to req.WriteBranch as one commit, retrying from fresh
// content when the push loses a race. It reuses the mirror that Discover
// keeps for the repository, fetching into it rather than cloning, and keeps
// scratch checkouts between calls, so a commit costs about what a fetch,
// commit and push in a warm clone cost.
//
// The new commit's tree is ReadRef's tree with Apply's edits and its parent
// is WriteBranch's head, so a branch written from another (a stage branch
// rendered from main) is a linear history of rendered states. When the tree
// equals the parent's, nothing is committed; a missing WriteBranch is then
// created at ReadRef's commit. Pushes are plain fast-forwards and never
// overwrite others' commits.
//
// Errors wrap ErrInvalidRequest, ErrPushConflict, or the sourceerr
// sentinels of the fetch and push (ErrUnauthorized, ErrNotFound,
// ErrUnreachable, ErrInsecureCredentials); errors of Apply are returned
// wrapped.
func (c *Cache) Commit(ctx context.Context, req CommitRequest) (CommitResult, error) {
	r, err := parseRemote(req.RepoURL, req.Creds)
	if err != nil {
		return CommitResult{}, err
	}
	req.WriteBranch = strings.TrimPrefix(req.WriteBranch, "refs/heads/")
	req.ReadRef = strings.TrimPrefix(req.ReadRef, "refs/heads/")
	if lower := strings.ToLower(req.ReadRef); isHex(lower) {
		req.ReadRef = lower
	}
	op := fmt.Sprintf("commit to branch %q of %s", req.WriteBranch, r.url)
	msg, err := req.prepare()
	if err != nil {
		return CommitResult{}, fmt.Errorf("%s: %w: %w", op, ErrInvalidRequest, err)
	}
	if err := r.checkTransport(); err != nil {
		return CommitResult{}, err
	}
	if msg := c.unsupported(r); msg != "" {
		return CommitResult{}, fmt.Errorf("%s: %w: %s", op, ErrInvalidRequest, msg)
	}
	if err := c.init(); err != nil {
		return CommitResult{}, err
	}
	e := c.entryFor(r, req.InsecureSkipTLSVerify)
	// Any sync of the mirror that starts from now on sees every push made
	// before this call, such as one by a controller that crashed before
	// it could record it.
	since := e.syncStarted.Load()
	unlock, err := c.lockBranch(ctx, r.key, req.WriteBranch)
	if err != nil {
		return CommitResult{}, fmt.Errorf("%s: wait for other commits to the branch: %w", op, err)
	}
	defer unlock()
	// A commit is a dozen git processes and a checkout; past a few per
	// CPU, more at once only make each slower.
	select {
	case c.commitSlots() <- struct{}{}:
		defer func() { <-c.commitSlots() }()
	case <-ctx.Done():
		return CommitResult{}, fmt.Errorf("%s: wait for other commits: %w", op, ctx.Err())
	}

	w := &write{c: c, e: e, req: req, msg: msg, op: op}
	defer w.release()
	return w.run(ctx, since)
}

// commitSlots bounds the commits under way in one Cache.
func (c *Cache) commitSlots() chan struct{} {
	c.slotsOnce.Do(func() {
		c.slots = make(chan struct{}, max(4, 4*runtime.GOMAXPROCS(0)))
	})
	return c.slots
}

// lockBranch waits until no other commit of this Cache to branch of the
// repository is under way.
func (c *Cache) lockBranch(ctx context.Context, repoKey, branch string) (func(), error) {
	key := repoKey + "\x00" + branch
	c.mu.Lock()
	if c.branchLocks == nil {
		c.branchLocks = map[string]*branchLock{}
	}
	l := c.branchLocks[key]
	if l == nil {
		l = &branchLock{ch: make(chan struct{}, 1)}
		c.branchLocks[key] = l
	}
	l.refs++
	c.mu.Unlock()
	drop := func() {
		c.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(c.branchLocks, key)
		}
		c.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; drop() }, nil
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
}

// write is one call of Commit.
type write struct {
	c   *Cache
	e   *entry
	req CommitRequest
	msg commitMessage
	op  string
	wt  *worktree
}

// target is what one attempt reads from and writes onto.
type target struct {
	tip        string // WriteBranch's head; "" when the branch is missing
	readCommit string
	readTree   string
	parent     string
	parentTree string
}

func (w *write) run(ctx context.Context, since uint64) (CommitResult, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("repoURL", w.e.remote.url, "branch", w.req.WriteBranch)
	maxAttempts := w.req.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = defaultMaxAttempts
	}
	for attempt := 1; ; attempt++ {
		res, conflict, err := w.attempt(ctx, since)
		res.Attempts = attempt
		if err != nil {
			return res, err
		}
		if conflict == "" {
			log.V(1).Info("committed", "commit", res.Commit, "changed", res.Changed, "alreadyDone", res.AlreadyDone, "attempts", attempt)
			return res, nil
		}
		if attempt >= maxAttempts {
			return res, fmt.Errorf("push to branch %q of %s: %w: the push was rejected %d times because others pushed to the branch at the same time (git: %s); retry later",
				w.req.WriteBranch, w.e.remote.url, ErrPushConflict, attempt, conflict)
		}
		log.V(1).Info("push lost a race; retrying on fresh content", "attempt", attempt, "reason", conflict)
		// Only a fetch that starts after the rejection shows what won.
		since = w.e.syncStarted.Load()
	}
}

// attempt fetches, edits and pushes once. conflict is the reason when the
// push was rejected because the branch moved.
func (w *write) attempt(ctx context.Context, since uint64) (res CommitResult, conflict string, err error) {
	c, e, req := w.c, w.e, w.req
	snap, err := c.syncForWrite(ctx, e, since)
	if err != nil {
		return res, "", err
	}
	t, err := w.resolve(ctx, snap)
	if err != nil {
		return res, "", err
	}
	if req.IdempotencyTrailer != [2]string{} && t.tip != "" {
		done, tipTree, err := c.findTrailer(ctx, e.dir, t.tip, req.IdempotencyTrailer)
		if err != nil {
			return res, "", fmt.Errorf("%s: search for trailer %s: %w", w.op, req.IdempotencyTrailer[0], err)
		}
		if done != "" {
			return CommitResult{Commit: done, AlreadyDone: true}, "", nil
		}
		t.parentTree = tipTree
	}
	if err := w.resolveTrees(ctx, &t); err != nil {
		return res, "", err
	}
	if err := c.hydrate(ctx, e, t.readTree); err != nil {
		return res, "", err
	}
	if err := w.checkout(ctx, t.readCommit); err != nil {
		return res, "", fmt.Errorf("%s: check out %s: %w", w.op, t.readCommit, err)
	}
	lines, err := req.Apply(ctx, w.wt.dir)
	if err != nil {
		// The files may be in any state; never reuse them.
		w.wt.broken = true
		return res, "", fmt.Errorf("%s: edit files: %w", w.op, err)
	}
	tree, err := c.stage(ctx, e, w.wt)
	if err != nil {
		return res, "", fmt.Errorf("%s: record edits: %w", w.op, err)
	}
	commit := t.parent
	switch {
	case tree == t.parentTree && t.tip != "":
		return CommitResult{Commit: t.tip}, "", nil
	case tree == t.parentTree:
		// Nothing to change on a new branch: create it at ReadRef's
		// commit.
	default:
		commit, err = c.commitTree(ctx, e.dir, tree, t.parent, w.msg.render(lines), req.AuthorName, req.AuthorEmail)
		if err != nil {
			return res, "", fmt.Errorf("%s: %w", w.op, err)
		}
	}
	conflict, err = c.push(ctx, e, e.dir, commit, req.WriteBranch, false)
	if err != nil || conflict != "" {
		return res, conflict, err
	}
	c.recordPush(ctx, e, req.WriteBranch, t.tip, commit, t.parent, tree)
	return CommitResult{Commit: commit, Changed: commit != t.parent}, "", nil
}

// resolve finds the commits an attempt reads from and writes onto in the
// mirror's refs.
func (w *write) resolve(ctx context.Context, snap *snapshot) (target, error) {
	c, e, req := w.c, w.e, w.req
	t := target{tip: snap.heads[req.WriteBranch]}
	switch read := req.ReadRef; {
	case read == "" && t.tip != "", read == req.WriteBranch && t.tip != "":
		t.readCommit = t.tip
	case read == req.WriteBranch:
		return t, fmt.Errorf("%s: %w: branch %q does not exist; to create it, read from another branch", w.op, sourceerr.ErrNotFound, read)
	case read == "":
		t.readCommit = snap.heads[snap.defaultBranch]
		if t.readCommit == "" {
			return t, fmt.Errorf("%s: %w: the branch does not exist and the repository has no default branch to create it from; set the branch to read from", w.op, sourceerr.ErrNotFound)
		}
	case isHex(read):
		if err := c.ensureCommit(ctx, e, read); err != nil {
			return t, fmt.Errorf("%s: %w", w.op, err)
		}
		t.readCommit = read
	default:
		t.readCommit = snap.heads[read]
		if t.readCommit == "" {
			return t, fmt.Errorf("%s: %w: branch %q to read from does not exist", w.op, sourceerr.ErrNotFound, read)
		}
	}
	t.parent = t.tip
	if t.parent == "" {
		t.parent = t.readCommit
	}
	return t, nil
}

// resolveTrees fills in the trees of t's commits that are not known yet.
func (w *write) resolveTrees(ctx context.Context, t *target) error {
	if t.parentTree != "" && t.readCommit == t.parent {
		t.readTree = t.parentTree
		return nil
	}
	args := []string{"rev-parse", t.readCommit + "^{tree}"}
	if t.parentTree == "" {
		args = append(args, t.parent+"^{tree}")
	}
	out, err := w.c.output(ctx, w.e.dir, nil, args...)
	trees := strings.Fields(string(out))
	if err == nil && len(trees) != len(args)-1 {
		err = fmt.Errorf("unexpected rev-parse output %q", out)
	}
	if err != nil {
		return fmt.Errorf("%s: read trees: %w", w.op, err)
	}
	t.readTree = trees[0]
	if t.parentTree == "" {
		t.parentTree = trees[1]
	}
	return nil
}

func (w *write) checkout(ctx context.Context, commit string) error {
	if w.wt == nil {
		wt, err := w.c.acquireWorktree(w.e)
		if err != nil {
			return err
		}
		w.wt = wt
	}
	err := w.c.checkout(ctx, w.e, w.wt, commit)
	if err != nil && w.wt.used {
		// A scratch copy that cannot be reset is replaced, once.
		w.wt.broken = true
		w.release()
		if w.wt, err = w.c.acquireWorktree(w.e); err != nil {
			return err
		}
		err = w.c.checkout(ctx, w.e, w.wt, commit)
	}
	return err
}

func (w *write) release() {
	if w.wt != nil {
		w.c.releaseWorktree(w.e, w.wt)
		w.wt = nil
	}
}

// syncForWrite returns the mirror's refs as of a sync that started after
// since, fetching unless one has already finished. Concurrent commits to a
// repository thus share fetches, and each still sees every push made before
// it began.
func (c *Cache) syncForWrite(ctx context.Context, e *entry, since uint64) (*snapshot, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.local != nil && e.syncedSeq > since {
		return e.local, nil
	}
	sctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	snap, err := c.sync(sctx, e, e.local)
	if err != nil {
		return nil, err
	}
	c.publish(e, snap, true)
	return snap, nil
}

// publish shows discovery the refs a commit fetched or pushed, so that
// Discover sees them without fetching again. A successful fetch also
// clears a remembered failure.
func (c *Cache) publish(e *entry, snap *snapshot, fetched bool) {
	e.state.Lock()
	defer e.state.Unlock()
	if e.snap == nil || e.snap.digest != snap.digest {
		e.snap, e.results = snap, nil
	}
	if fetched && e.err != nil {
		e.err = nil
	}
}

// ensureCommit makes sure that sha is in the mirror, fetching it when it is
// on no branch or tag that the mirror has.
func (c *Cache) ensureCommit(ctx context.Context, e *entry, sha string) error {
	if _, err := c.output(ctx, e.dir, nil, "cat-file", "-e", sha+"^{commit}"); err == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg := c.networkConfig(e.remote, e.skipTLSVerify)
	cfg["remote.origin.url"] = e.remote.url
	fctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	stderr, err := c.runNet(fctx, e.remote, cfg, gitRun{dir: e.dir, args: []string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "origin", sha}})
	if err != nil {
		var refused *egress.RefusedError
		if errors.As(err, &refused) {
			return networkError(fctx, "fetch commit "+sha+" of", e.remote, stderr, err)
		}
		if kind, _ := classifyStderr(strings.ToLower(quoted.ReplaceAllString(stderr, "''"))); kind == nil {
			return fmt.Errorf("%w: commit %s to read from is not in the repository", sourceerr.ErrNotFound, sha)
		}
		return networkError(fctx, "fetch commit "+sha+" of", e.remote, stderr, err)
	}
	if _, err := c.output(ctx, e.dir, nil, "cat-file", "-e", sha+"^{commit}"); err != nil {
		return fmt.Errorf("%w: %s to read from is not a commit", sourceerr.ErrNotFound, sha)
	}
	return nil
}

// findTrailer returns the newest of the last idempotencyDepth commits of
// head that carries trailer, or "", and head's tree, which the same git
// process can tell.
func (c *Cache) findTrailer(ctx context.Context, dir, head string, trailer [2]string) (found, headTree string, err error) {
	format := "--format=%H%x1f%T%x1f%(trailers:key=" + trailer[0] + ",valueonly,separator=%x1f)%x1e"
	out, err := c.output(ctx, dir, nil, "log", "-n", strconv.Itoa(idempotencyDepth), format, head, "--")
	if err != nil {
		return "", "", err
	}
	for i, rec := range bytes.Split(out, []byte{0x1e}) {
		f := strings.Split(strings.TrimSpace(string(rec)), "\x1f")
		if len(f) < 2 {
			continue
		}
		if i == 0 {
			headTree = f[1]
		}
		for _, v := range f[2:] {
			if strings.TrimSpace(v) == trailer[1] {
				return f[0], headTree, nil
			}
		}
	}
	return "", headTree, nil
}

// hydrate makes sure that the mirror has the contents of every file of tree,
// fetching those it lacks in one request: mirrors are blob-less, and a
// checkout needs them. Trees are remembered once complete, so the usual
// commit, whose content was read or written by the one before, skips even
// the local check.
func (c *Cache) hydrate(ctx context.Context, e *entry, tree string) error {
	return c.hydrateFrom(ctx, e, e.dir, tree)
}

// hydrateFrom is hydrate for a tree of the repository at src, which
// borrows the mirror's objects (a work tree of Checkout).
func (c *Cache) hydrateFrom(ctx context.Context, e *entry, src, tree string) error {
	if e.write.isHydrated(tree) {
		return nil
	}
	missing, err := c.missingObjects(ctx, src, tree)
	if err != nil {
		return fmt.Errorf("list file contents of %s: %w", e.remote.url, err)
	}
	if len(missing) > 0 {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.write.isHydrated(tree) {
			// Another commit fetched them while this one waited.
			return nil
		}
		cfg := c.networkConfig(e.remote, e.skipTLSVerify)
		cfg["remote.origin.url"] = e.remote.url
		// What git's own lazy fetch of a partial clone does, but in one
		// batch, under the mirror's lock and with the cache's credentials.
		cfg["fetch.negotiationAlgorithm"] = "noop"
		fctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
		stderr, err := c.runNet(fctx, e.remote, cfg, gitRun{
			dir:   e.dir,
			stdin: strings.NewReader(strings.Join(missing, "\n") + "\n"),
			args:  []string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin", "origin"},
		})
		if err != nil {
			return networkError(fctx, "fetch file contents of", e.remote, stderr, err)
		}
		still, err := c.missingObjects(ctx, src, tree)
		if err != nil {
			return fmt.Errorf("list file contents of %s: %w", e.remote.url, err)
		}
		if len(still) > 0 {
			return fmt.Errorf("fetch file contents of %s: the host did not send %d of the %d files asked for; it may not serve objects by ID (partial clone)", e.remote.url, len(still), len(missing))
		}
	}
	e.write.markHydrated(tree)
	return nil
}

// missingObjects lists the objects of tree that the mirror lacks.
func (c *Cache) missingObjects(ctx context.Context, dir, tree string) ([]string, error) {
	out, err := c.output(ctx, dir, nil, "--git-dir="+dir, "rev-list", "--objects", "--no-object-names", "--missing=print", tree)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, line := range strings.Split(string(out), "\n") {
		if oid, ok := strings.CutPrefix(line, "?"); ok {
			missing = append(missing, oid)
		}
	}
	return missing, nil
}

func (s *writeState) isHydrated(tree string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hydrated[tree]
}

func (s *writeState) markHydrated(tree string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hydrated == nil || len(s.hydrated) >= maxHydrated {
		s.hydrated = map[string]bool{}
	}
	s.hydrated[tree] = true
}

// commitTree writes a commit object. The time is the Cache's clock, so the
// commit depends on nothing else than its inputs and the time.
func (c *Cache) commitTree(ctx context.Context, dir, tree, parent, message, name, email string) (string, error) {
	if name == "" {
		name = defaultAuthor
	}
	if email == "" {
		email = defaultEmail
	}
	date := fmt.Sprintf("@%d +0000", c.opts.Now().Unix())
	env := append(c.gitEnv(c.baseConfig()),
		"GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email, "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email, "GIT_COMMITTER_DATE="+date,
	)
	var stdout bytes.Buffer
	stderr, err := c.run(ctx, gitRun{dir: dir, env: env, stdin: strings.NewReader(message), stdout: &stdout,
		args: []string{"-c", "commit.gpgSign=false", "commit-tree", tree, "-p", parent, "-F", "-"}})
	if err != nil {
		return "", fmt.Errorf("write commit: %w: %s", err, strings.TrimSpace(stderr))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// push pushes commit, an object of the repository at gitDir (the mirror,
// or a work tree's that borrows its objects), to branch as a fast-forward,
// or, with force, whatever the branch holds. conflict is git's reason when
// the push was rejected because the branch moved since the mirror's fetch;
// other failures are errors.
func (c *Cache) push(ctx context.Context, e *entry, gitDir, commit, branch string, force bool) (conflict string, err error) {
	cfg := c.networkConfig(e.remote, e.skipTLSVerify)
	cfg["remote.origin.url"] = e.remote.url
	pctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var stdout bytes.Buffer
	ref := "refs/heads/" + branch
	// A thin pack uses files of the remote's commits as delta bases, and
	// a blob-less mirror lacks most of them: pack-objects would fail or
	// fetch them one by one. --no-thin is enough for ssh:// and file://
	// but does not reach the smart-HTTP helper (git 2.39 still packs with
	// --thin); a delta window of 0 makes pack-objects pick no bases at
	// all. A commit's pack is a few changed files, so deltas would save
	// little.
	cfg["pack.window"] = "0"
	refspec := commit + ":" + ref
	if force {
		refspec = "+" + refspec
	}
	stderr, runErr := c.runNet(pctx, e.remote, cfg, gitRun{dir: gitDir, stdout: &stdout,
		args: []string{"--git-dir=" + gitDir, "push", "--porcelain", "--no-thin", "--no-verify", "origin", refspec}})
	flag, summary, found := pushStatus(stdout.String(), ref)
	switch {
	case found && flag != '!':
		// The branch was updated; a later failure (such as of the
		// connection's teardown) does not undo that.
		return "", nil
	case found && flag == '!':
		if isRace(summary) {
			return scrub(summary, e.remote.creds), nil
		}
		return "", fmt.Errorf("push to branch %q of %s: the host refused the commit: %s; check the branch protection rules and that the credentials may push to this branch",
			branch, e.remote.url, scrub(summary, e.remote.creds))
	}
	if runErr == nil {
		runErr = errors.New("git push reported no status for the branch")
	}
	return "", networkError(pctx, "push to", e.remote, stderr, runErr)
}

// pushStatus finds ref's line in `git push --porcelain` output:
// "<flag>\t<from>:<to>\t<summary>".
func pushStatus(out, ref string) (flag byte, summary string, found bool) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) == 3 && len(f[0]) == 1 && strings.HasSuffix(f[1], ":"+ref) {
			return f[0][0], f[2], true
		}
	}
	return 0, "", false
}

// raceReasons are git's words for a push that lost to another: rejected
// by the client because the listed ref moved, or by the server because the
// ref changed between its listing and the update.
var raceReasons = regexp.MustCompile(`non-fast-forward|fetch first|stale info|already exists|failed to update ref|cannot lock ref|failed to lock|incorrect old value|reference already exists|but expected`)

func isRace(summary string) bool {
	return raceReasons.MatchString(strings.ToLower(summary))
}

// recordPush moves the mirror's branch to the pushed commit, so that the
// next commit and discovery see it without fetching. A mirror that moved
// meanwhile (a fetch saw something newer) is left alone.
//
// The commit's new objects are first copied into a pack marked as the
// remote's (a promisor pack), which they now are. A fetch into a partial
// clone checks that every ref it lists points into a promisor pack; a
// single ref pointing at a loose object instead makes it enumerate every
// object of the mirror (`rev-list --exclude-promisor-objects`), which on a
// history of 100,000 commits added 100 ms to every later fetch, discovery's
// included.
func (c *Cache) recordPush(ctx context.Context, e *entry, branch, old, commit, parent, tree string) {
	var exclude []string
	if commit != parent {
		exclude = []string{parent}
	}
	c.recordPushFrom(ctx, e, e.dir, branch, old, commit, exclude, tree, commit != parent)
}

// recordPushFrom is recordPush for a commit of the repository at src,
// which borrows the mirror's objects: the objects of commit that the
// commits of exclude lack are packed into the mirror when pack is set.
func (c *Cache) recordPushFrom(ctx context.Context, e *entry, src, branch, old, commit string, exclude []string, tree string, pack bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if pack {
		if err := c.packAsPromised(ctx, src, e.dir, commit, exclude); err != nil {
			logr.FromContextOrDiscard(ctx).Error(err, "pack pushed objects; the mirror's branch is left for the next fetch", "repoURL", e.remote.url)
			return
		}
	}
	if old == "" {
		old = strings.Repeat("0", len(commit))
	}
	if _, err := c.output(ctx, e.dir, nil, "update-ref", "refs/heads/"+branch, commit, old); err != nil {
		return
	}
	// Its new files are now in the mirror for good: packed, and reachable.
	e.write.markHydrated(tree)
	e.write.rememberTree(commit, tree)
	if e.pushedAt == nil || len(e.pushedAt) >= maxResults {
		e.pushedAt = map[string]time.Time{}
	}
	e.pushedAt[branch] = c.opts.Now()
	var head []byte
	if e.local != nil {
		head = e.local.headRef
	}
	snap, err := c.readSnapshotHead(ctx, e.dir, e.local, head)
	if err != nil {
		return
	}
	e.local = snap
	c.publish(e, snap, false)
}

// packAsPromised writes the objects of commit, read in the repository at
// src, that the commits of exclude lack into a new pack of the mirror at
// dir, marked as a promisor pack. The caller holds the mirror's lock.
func (c *Cache) packAsPromised(ctx context.Context, src, dir, commit string, exclude []string) error {
	packDir := filepath.Join(dir, "objects", "pack")
	revs := commit + "\n"
	for _, x := range exclude {
		revs += "^" + x + "\n"
	}
	out, err := c.output(ctx, src, strings.NewReader(revs),
		"--git-dir="+src, "-c", "pack.window=0", "pack-objects", "--revs", "--quiet", filepath.Join(packDir, "pack"))
	if err != nil {
		return err
	}
	name := strings.TrimSpace(string(out))
	if !isHex(name) {
		return fmt.Errorf("pack-objects printed %q instead of a pack name", name)
	}
	return os.WriteFile(filepath.Join(packDir, "pack-"+name+".promisor"), nil, 0o600)
}

// trailerKey is what git recognises as a trailer's key.
var trailerKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)

// commitMessage is a commit's message without its body of changes.
type commitMessage struct {
	subject  string
	trailers [][2]string
}

// render builds the message: the subject, the changes as a bulleted list,
// and the trailers, separated by blank lines.
func (m commitMessage) render(lines []string) string {
	var b strings.Builder
	b.WriteString(m.subject)
	b.WriteString("\n")
	var body []string
	for _, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if l != "" {
			body = append(body, "- "+l)
		}
	}
	if len(body) > 0 {
		b.WriteString("\n" + strings.Join(body, "\n") + "\n")
	}
	if len(m.trailers) > 0 {
		b.WriteString("\n")
		for _, t := range m.trailers {
			b.WriteString(t[0] + ": " + t[1] + "\n")
		}
	}
	return b.String()
}

// prepare checks the request and builds its message.
func (req *CommitRequest) prepare() (commitMessage, error) {
	var m commitMessage
	if err := checkBranchName(req.WriteBranch); err != nil {
		return m, fmt.Errorf("branch to write: %w", err)
	}
	if req.ReadRef != "" && !isHex(req.ReadRef) {
		if err := checkBranchName(req.ReadRef); err != nil {
			return m, fmt.Errorf("branch to read from: %w", err)
		}
	}
	if req.Apply == nil {
		return m, errors.New("no edit function (Apply)")
	}
	m.subject = strings.Join(strings.Fields(req.Subject), " ")
	if m.subject == "" {
		return m, errors.New("the commit subject is empty")
	}
	for _, s := range []string{req.AuthorName, req.AuthorEmail} {
		if strings.ContainsAny(s, "<>\n\r\x00") {
			return m, fmt.Errorf("author %q contains one of < > or a line break", s)
		}
	}
	trailers := append([][2]string(nil), req.Trailers...)
	if req.IdempotencyTrailer != [2]string{} {
		present := false
		for _, t := range trailers {
			if strings.EqualFold(t[0], req.IdempotencyTrailer[0]) && t[1] == req.IdempotencyTrailer[1] {
				present = true
			}
		}
		if !present {
			trailers = append(trailers, req.IdempotencyTrailer)
		}
	}
	if err := checkTrailers(trailers); err != nil {
		return m, err
	}
	m.trailers = trailers
	return m, nil
}

// checkTrailers refuses trailers that git would not read back as written.
func checkTrailers(trailers [][2]string) error {
	for _, t := range trailers {
		if !trailerKey.MatchString(t[0]) {
			return fmt.Errorf("trailer key %q: use letters, digits and dashes", t[0])
		}
		if t[1] == "" || strings.TrimSpace(t[1]) != t[1] || strings.ContainsAny(t[1], "\n\r\x00\x1e\x1f") {
			return fmt.Errorf("trailer %s: the value %q must be one line without surrounding spaces", t[0], t[1])
		}
	}
	return nil
}

// checkBranchName applies git's rules for branch names (git
// check-ref-format), so that a bad name is reported as such rather than as
// a failed push.
func checkBranchName(name string) error {
	bad := name == "" || name == "@" || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "/") ||
		strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") ||
		strings.Contains(name, "//") || strings.Contains(name, "@{") || strings.ContainsAny(name, " ~^:?*[\\\x7f")
	for _, r := range name {
		if r < 0x20 {
			bad = true
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("%q is not a valid branch name", name)
	}
	return nil
}
