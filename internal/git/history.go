package git

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
)

// historyWindow is how many commits the first read of a branch's history
// takes; each later read, for a selection that found too few matches in
// what was read, doubles what has been read, up to the history depth.
const historyWindow = 128

// history is the first-parent history of one branch head, newest first,
// with the files each commit changes, read with one `git log` per window
// and shared by every path-filtered selection of that head: a push to a
// monorepo watched by a hundred subscribers with a hundred different
// includePaths costs one git process, and each subscriber's filter is
// matched in memory.
type history struct {
	head string
	// mu is held while commits are matched or read.
	mu      sync.Mutex
	commits []logCommit
	// complete says the branch has no commits beyond those read.
	complete bool
}

// historyOf returns the shared history of head in the mirror's current
// snapshot snap, creating it on first use. A selection on a snapshot that
// is no longer current gets a history of its own.
func (e *entry) historyOf(snap *snapshot, head string) *history {
	e.state.Lock()
	defer e.state.Unlock()
	if e.snap != snap {
		return &history{head: head}
	}
	if h := e.histories[head]; h != nil {
		return h
	}
	if e.histories == nil {
		e.histories = map[string]*history{}
	}
	h := &history{head: head}
	e.histories[head] = h
	return h
}

// keepHistoriesLocked drops the histories of heads that snap no longer has; those
// of branches a push did not touch are kept. The caller holds e.state.
func (e *entry) keepHistoriesLocked(snap *snapshot) {
	if len(e.histories) == 0 {
		return
	}
	live := make(map[string]bool, len(snap.heads))
	for _, sha := range snap.heads {
		live[sha] = true
	}
	for head := range e.histories {
		if !live[head] {
			delete(e.histories, head)
		}
	}
}

// match returns up to limit commits of h that filter accepts, newest first,
// looking at depth commits at most, and how many it looked at. It reads
// more of the history only when what has been read holds too few matches.
func (h *history) match(ctx context.Context, c *Cache, dir string, filter *pathFilter, limit, depth int) (commits []logCommit, scanned int, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		for ; scanned < len(h.commits) && scanned < depth; scanned++ {
			lc := h.commits[scanned]
			if filter.matches(lc.files) {
				lc.files = nil
				commits = append(commits, lc)
				if len(commits) >= limit {
					return commits, scanned + 1, nil
				}
			}
		}
		if h.complete || scanned >= depth {
			return commits, scanned, nil
		}
		n := min(max(len(h.commits), historyWindow), depth-len(h.commits))
		more, err := c.readHistory(ctx, dir, h.head, len(h.commits), n)
		if err != nil {
			return nil, scanned, err
		}
		h.commits = append(h.commits, more...)
		if len(more) < n {
			h.complete = true
		}
	}
}

// readHistory reads n commits of head's first-parent history after the
// first skip, with the files each changes against its first parent.
func (c *Cache) readHistory(ctx context.Context, dir, head string, skip, n int) ([]logCommit, error) {
	// Without rename detection: it reads file contents, which a blob-less
	// mirror lacks, and a rename touches both paths anyway.
	args := []string{"log", "--first-parent", "-z", logFormat, "--name-only", "--no-renames", "--diff-merges=first-parent",
		"--skip=" + strconv.Itoa(skip), "-n", strconv.Itoa(n), head, "--"}
	var commits []logCommit
	err := c.stream(ctx, dir, args, func(r *bufio.Reader) error {
		return parseLog(r, func(lc logCommit) bool {
			commits = append(commits, lc)
			return true
		})
	})
	return commits, err
}

// parseLog reads `git log -z` output in logFormat, with or without
// --name-only, and hands each commit to each until it returns false.
func parseLog(r *bufio.Reader, each func(logCommit) bool) error {
	var cur *logCommit
	for {
		tok, rerr := r.ReadBytes(0)
		tok = bytes.TrimSuffix(tok, []byte{0})
		if h, ok := parseLogHeader(tok); ok {
			if cur != nil && !each(*cur) {
				return errStop
			}
			cur = h
		} else if cur != nil {
			if name := strings.TrimPrefix(string(tok), "\n"); name != "" {
				cur.files = append(cur.files, name)
			}
		}
		if rerr == io.EOF {
			if cur != nil {
				each(*cur)
			}
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}
