package git

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/kargohq/kargo/internal/credentials"
)

// BranchRequest names a branch of a repository to read.
type BranchRequest struct {
	// RepoURL is the repository, as in a subscription.
	RepoURL string
	// Creds are the credentials to read with; nil for anonymous.
	Creds *credentials.Credentials
	// InsecureSkipTLSVerify turns off TLS verification for this
	// repository.
	InsecureSkipTLSVerify bool
	// Branch is the branch to read.
	Branch string
}

// TrailedCommit is a commit and the trailers of its message.
type TrailedCommit struct {
	// ID is the commit's hash.
	ID string
	// Trailers holds each trailer's value by key; of a key given twice,
	// the last value.
	Trailers map[string]string
	// all are the trailers in their order, keys given twice included.
	all [][2]string
}

// RecentCommits returns the last commits of req.Branch, newest first, as
// many as Commit searches for an IdempotencyTrailer, with their trailers.
// It fetches first, so that every push made before the call is seen, as
// Commit does. A branch that does not exist has no commits.
func (c *Cache) RecentCommits(ctx context.Context, req BranchRequest) ([]TrailedCommit, error) {
	r, err := parseRemote(req.RepoURL, req.Creds)
	if err != nil {
		return nil, err
	}
	branch := strings.TrimPrefix(req.Branch, "refs/heads/")
	op := fmt.Sprintf("read branch %q of %s", branch, r.url)
	if err := checkBranchName(branch); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", op, ErrInvalidRequest, err)
	}
	if err := r.checkTransport(); err != nil {
		return nil, err
	}
	if msg := c.unsupported(r); msg != "" {
		return nil, fmt.Errorf("%s: %w: %s", op, ErrInvalidRequest, msg)
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	e := c.entryFor(r, req.InsecureSkipTLSVerify)
	snap, err := c.syncForWrite(ctx, e, e.syncStarted.Load())
	if err != nil {
		return nil, err
	}
	tip := snap.heads[branch]
	if tip == "" {
		return nil, nil
	}
	commits, err := c.trailedCommits(ctx, e.dir, tip)
	if err != nil {
		return nil, fmt.Errorf("%s: list commits: %w", op, err)
	}
	return commits, nil
}

// trailedCommits returns the last idempotencyDepth commits of tip in the
// repository at dir, newest first, with their trailers.
func (c *Cache) trailedCommits(ctx context.Context, dir, tip string) ([]TrailedCommit, error) {
	out, err := c.output(ctx, dir, nil, "--git-dir="+dir, "log", "-n", strconv.Itoa(idempotencyDepth),
		"--format=%H%x1f%(trailers:only,unfold,separator=%x1f)%x1e", tip, "--")
	if err != nil {
		return nil, err
	}
	var commits []TrailedCommit
	for _, rec := range bytes.Split(out, []byte{0x1e}) {
		f := strings.Split(strings.TrimSpace(string(rec)), "\x1f")
		if f[0] == "" {
			continue
		}
		tc := TrailedCommit{ID: f[0], Trailers: map[string]string{}}
		for _, t := range f[1:] {
			if k, v, ok := strings.Cut(t, ":"); ok {
				k, v = strings.TrimSpace(k), strings.TrimSpace(v)
				tc.Trailers[k] = v
				tc.all = append(tc.all, [2]string{k, v})
			}
		}
		commits = append(commits, tc)
	}
	return commits, nil
}

// carrying returns the newest of commits that carries trailer (its key
// compared as git compares trailer keys, without regard to case), or "".
func carrying(commits []TrailedCommit, trailer [2]string) string {
	if trailer == [2]string{} {
		return ""
	}
	for _, tc := range commits {
		for _, kv := range tc.all {
			if strings.EqualFold(kv[0], trailer[0]) && kv[1] == trailer[1] {
				return tc.ID
			}
		}
	}
	return ""
}
