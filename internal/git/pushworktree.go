package git

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// PushRequest describes a push of a work tree's HEAD (Cache.PushWorkTree).
type PushRequest struct {
	// Dir is the work tree, made by Checkout.
	Dir string
	// Creds are the credentials to push with; nil for anonymous. The
	// repository is the one the work tree was checked out from.
	Creds *credentials.Credentials
	// Branch receives the push; the work tree's branch when empty.
	Branch string
	// Force replaces whatever Branch holds; otherwise the push is a
	// fast-forward, with the work tree's commits replayed onto the
	// branch's head when the branch moved since the checkout.
	Force bool
	// IdempotencyTrailer, such as {"Kargo-Promotion", uid}, makes the
	// push do nothing when one of the last 50 commits of Branch carries
	// it: a controller that crashed between pushing and recording the
	// push pushes once. Zero means no check.
	IdempotencyTrailer [2]string
	// Check, when set, is called with the last commits of Branch (none
	// when it does not exist) before every attempt to push: on the first
	// attempt as the mirror knows them, after a fetch on later ones. A
	// branch that has commits the mirror has not seen refuses the first
	// attempt (it is not a fast-forward), so a push never lands without
	// Check having seen every commit before it. An error stops the push
	// and is returned.
	Check func(ctx context.Context, recent []TrailedCommit) error
	// MaxAttempts bounds the pushes tried when others push to Branch at
	// the same time; 5 when zero.
	MaxAttempts int
}

// PushResult is what PushWorkTree did.
type PushResult struct {
	// Branch is the branch pushed to.
	Branch string
	// Commit is the head of Branch after the push: what was pushed, what
	// the branch already held (AlreadyDone, or nothing new), or the commit
	// that carries the IdempotencyTrailer.
	Commit string
	// Pushed is true when the branch was changed.
	Pushed bool
	// AlreadyDone is true when Branch already had a commit with the
	// IdempotencyTrailer, so nothing was pushed.
	AlreadyDone bool
	// Rebased is true when the work tree's commits were replayed onto a
	// branch that moved since the checkout.
	Rebased bool
	// Attempts counts the attempts to push; each after the first
	// fetches first.
	Attempts int
}

// ErrRebaseConflict means a branch moved since the work tree was checked
// out and its new commits change files that the work tree's commits change
// too: git cannot tell which change should win.
var ErrRebaseConflict = errors.New("the branch changed the same files since the checkout")

// PushWorkTree pushes the HEAD of the work tree at req.Dir to req.Branch
// through the same remote, credentials, TLS settings, outbound address
// policy and branch locks as Commit, and records the pushed commit in the
// mirror, so that the next Discover, Commit or Checkout sees it without a
// fetch. When the branch moved since the checkout, the work tree's commits
// are replayed onto its new head, path by path: changes to different files
// are combined, changes of both to one file stop the push with
// ErrRebaseConflict. The work tree's HEAD and files follow the replayed
// commits.
func (c *Cache) PushWorkTree(ctx context.Context, req PushRequest) (PushResult, error) {
	res := PushResult{}
	wt, err := c.OpenWorkTree(ctx, req.Dir)
	if err != nil {
		return res, err
	}
	r, err := parseRemote(wt.RepoURL, req.Creds)
	if err != nil {
		return res, err
	}
	res.Branch = strings.TrimPrefix(req.Branch, "refs/heads/")
	if res.Branch == "" {
		res.Branch = wt.Branch
	}
	op := fmt.Sprintf("push to branch %q of %s", res.Branch, r.url)
	switch {
	case res.Branch == "":
		return res, fmt.Errorf("push %s: %w: the work tree has a tag or a commit checked out, not a branch; name the branch to push to", r.url, ErrInvalidRequest)
	case wt.Head == "":
		return res, fmt.Errorf("%s: %w: the work tree has no commit; commit before pushing", op, ErrInvalidRequest)
	}
	if err := checkBranchName(res.Branch); err != nil {
		return res, fmt.Errorf("%s: %w: %w", op, ErrInvalidRequest, err)
	}
	if err := r.checkTransport(); err != nil {
		return res, err
	}
	if msg := c.unsupported(r); msg != "" {
		return res, fmt.Errorf("%s: %w: %s", op, ErrInvalidRequest, msg)
	}
	if err := c.init(); err != nil {
		return res, err
	}
	e := c.entryFor(r, wt.InsecureSkipTLSVerify)
	since := e.syncStarted.Load()
	unlock, err := c.lockBranch(ctx, r.key, res.Branch)
	if err != nil {
		return res, fmt.Errorf("%s: wait for other commits to the branch: %w", op, err)
	}
	defer unlock()
	select {
	case c.commitSlots() <- struct{}{}:
		defer func() { <-c.commitSlots() }()
	case <-ctx.Done():
		return res, fmt.Errorf("%s: wait for other commits: %w", op, ctx.Err())
	}
	maxAttempts := req.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = defaultMaxAttempts
	}
	gitDir := filepath.Join(wt.Dir, ".git")
	base := readLooseRef(gitDir, baseRef)
	for res.Attempts = 1; ; res.Attempts++ {
		// The first attempt of a push that is not forced starts from the
		// mirror as it is, without a fetch: a commit of the branch that
		// the mirror has not seen is not in the pushed commit's history,
		// so the host refuses the push as not a fast-forward, and the
		// next attempt fetches and looks again (for the idempotency
		// trailer, the Check and a rebase). A forced push would replace
		// such a commit, so it fetches first.
		var snap *snapshot
		if res.Attempts == 1 && !req.Force {
			snap = c.localSnapshot(e)
		}
		if snap == nil {
			if snap, err = c.syncForWrite(ctx, e, since); err != nil {
				return res, err
			}
		}
		tip := snap.heads[res.Branch]
		var recent []TrailedCommit
		if tip != "" {
			switch {
			case req.Check != nil:
				// One listing of the last commits serves both the
				// idempotency trailer and the Check.
				if recent, err = c.trailedCommits(ctx, e.dir, tip); err != nil {
					return res, fmt.Errorf("%s: list commits: %w", op, err)
				}
				if done := carrying(recent, req.IdempotencyTrailer); done != "" {
					res.Commit, res.AlreadyDone = done, true
					return res, nil
				}
			case req.IdempotencyTrailer != [2]string{}:
				done, _, err := c.findTrailer(ctx, e.dir, tip, req.IdempotencyTrailer)
				if err != nil {
					return res, fmt.Errorf("%s: search for trailer %s: %w", op, req.IdempotencyTrailer[0], err)
				}
				if done != "" {
					res.Commit, res.AlreadyDone = done, true
					return res, nil
				}
			}
		}
		if req.Check != nil {
			if err := req.Check(ctx, recent); err != nil {
				return res, err
			}
		}
		head := wt.Head
		switch {
		case tip == head:
			res.Commit = tip
			return res, nil
		case tip == "" || req.Force:
		case c.isAncestor(ctx, wt.Dir, tip, head):
		case c.isAncestor(ctx, wt.Dir, head, tip):
			// The branch already holds the work tree's commits.
			res.Commit = tip
			return res, nil
		default:
			if head, err = c.rebase(ctx, e, wt, tip); err != nil {
				return res, fmt.Errorf("%s: %w", op, err)
			}
			wt.Head, res.Rebased = head, true
		}
		conflict, err := c.push(ctx, e, gitDir, head, res.Branch, req.Force)
		if err != nil {
			return res, err
		}
		if conflict == "" {
			exclude := []string{}
			for _, x := range []string{tip, base} {
				if x != "" {
					exclude = append(exclude, x)
				}
			}
			tree := ""
			if head == wt.Head && !res.Rebased {
				tree = wt.tree
			}
			if tree == "" {
				out, _ := c.inWorkTree(ctx, wt.Dir, nil, "rev-parse", head+"^{tree}")
				tree = strings.TrimSpace(string(out))
			}
			c.recordPushFrom(ctx, e, gitDir, res.Branch, tip, head, exclude, tree, true)
			res.Commit, res.Pushed = head, true
			logr.FromContextOrDiscard(ctx).V(1).Info("pushed work tree", "repoURL", r.url, "branch", res.Branch, "commit", head, "attempts", res.Attempts, "rebased", res.Rebased)
			return res, nil
		}
		if res.Attempts >= maxAttempts {
			return res, fmt.Errorf("%s: %w: the push was rejected %d times because others pushed to the branch at the same time (git: %s); retry later",
				op, ErrPushConflict, res.Attempts, conflict)
		}
		since = e.syncStarted.Load()
	}
}

// localSnapshot is the mirror's refs as this process last fetched or
// pushed them, nil before its first sync.
func (c *Cache) localSnapshot(e *entry) *snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.local
}

// isAncestor says whether commit a is an ancestor of (or is) b.
func (c *Cache) isAncestor(ctx context.Context, dir, a, b string) bool {
	_, err := c.inWorkTree(ctx, dir, nil, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// rebase replays the work tree's commits that onto lacks onto it, one by
// one, keeping their messages and authors, moves the work tree's HEAD to
// the last and checks its files out. Each replay is a three-way merge of
// trees (read-tree -m), which needs no file contents: a path that only one
// side changed takes that side's version, and a path both changed
// differently is a conflict.
func (c *Cache) rebase(ctx context.Context, e *entry, wt WorkTree, onto string) (string, error) {
	revs := []string{"rev-list", "--reverse", "--first-parent", wt.Head}
	if mb, err := c.inWorkTree(ctx, wt.Dir, nil, "merge-base", wt.Head, onto); err == nil {
		revs = append(revs, "^"+strings.TrimSpace(string(mb)))
	}
	out, err := c.inWorkTree(ctx, wt.Dir, nil, revs...)
	if err != nil {
		return "", err
	}
	index, err := os.CreateTemp(c.tmpDir, "rebase-index-")
	if err != nil {
		return "", err
	}
	index.Close()
	defer os.Remove(index.Name())
	idx := []string{"GIT_INDEX_FILE=" + index.Name()}
	head := onto
	for _, commit := range strings.Fields(string(out)) {
		info, err := c.inWorkTree(ctx, wt.Dir, nil, "log", "-1", "--format=%T%x00%P%x00%an%x00%ae%x00%at%x00%B", commit)
		if err != nil {
			return "", err
		}
		f := strings.SplitN(string(info), "\x00", 6)
		if len(f) != 6 {
			return "", fmt.Errorf("read commit %s: unexpected output", commit)
		}
		parentTree := emptyTree
		if parents := strings.Fields(f[1]); len(parents) > 0 {
			pt, err := c.inWorkTree(ctx, wt.Dir, nil, "rev-parse", parents[0]+"^{tree}")
			if err != nil {
				return "", err
			}
			parentTree = strings.TrimSpace(string(pt))
		}
		if err := os.Remove(index.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if _, err := c.inWorkTree(ctx, wt.Dir, idx, "read-tree", head); err != nil {
			return "", err
		}
		if _, err := c.inWorkTree(ctx, wt.Dir, idx, "read-tree", "-m", "-i", "--aggressive", parentTree, head, f[0]); err != nil {
			return "", err
		}
		unmerged, err := c.inWorkTree(ctx, wt.Dir, idx, "ls-files", "--unmerged")
		if err != nil {
			return "", err
		}
		if paths := unmergedPaths(string(unmerged)); len(paths) > 0 {
			return "", fmt.Errorf("%w: %s; promote again to start from the branch's new content: %w", ErrRebaseConflict, strings.Join(paths, ", "), sourceerr.ErrInvalid)
		}
		// The other side's new files are not in the blob-less mirror
		// yet; their IDs are all a tree needs, and their contents are
		// fetched below for the checkout.
		tree, err := c.inWorkTree(ctx, wt.Dir, idx, "write-tree", "--missing-ok")
		if err != nil {
			return "", err
		}
		secs, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			return "", fmt.Errorf("read date of commit %s: %w", commit, err)
		}
		author := ident{f[2], f[3], time.Unix(secs, 0)}
		message := strings.TrimRight(f[5], "\n") + "\n"
		if head, err = c.commitIn(ctx, wt.Dir, strings.TrimSpace(string(tree)), []string{head}, message, author, ident{f[2], f[3], c.opts.Now()}); err != nil {
			return "", err
		}
	}
	newTree, err := c.inWorkTree(ctx, wt.Dir, nil, "rev-parse", head+"^{tree}")
	if err != nil {
		return "", err
	}
	if err := c.hydrateFrom(ctx, e, filepath.Join(wt.Dir, ".git"), strings.TrimSpace(string(newTree))); err != nil {
		return "", err
	}
	if _, err := c.inWorkTree(ctx, wt.Dir, nil, "update-ref", "HEAD", head, wt.Head); err != nil {
		return "", err
	}
	if _, err := c.inWorkTree(ctx, wt.Dir, nil, "read-tree", "--reset", "-u", "HEAD"); err != nil {
		return "", err
	}
	return head, nil
}

// unmergedPaths lists the paths of `git ls-files --unmerged` output, once
// each.
func unmergedPaths(out string) []string {
	var paths []string
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if _, p, ok := strings.Cut(line, "\t"); ok {
			line = p
		}
		if !seen[line] {
			seen[line] = true
			paths = append(paths, line)
		}
	}
	return paths
}
