package git

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// snapshot is an immutable view of a mirror's refs after a refresh. Readers
// share it without locks; a refresh that changes anything builds a new one.
type snapshot struct {
	// heads maps branch names to commit SHAs.
	heads map[string]string
	// defaultBranch is the remote's default branch, empty when unknown (an
	// empty repository, or a HEAD that points at no branch).
	defaultBranch string
	// remoteHead is the commit of the remote's HEAD at the last fetch, used
	// to notice that the default branch changed.
	remoteHead string
	// digest changes whenever a branch, a tag or the default branch does.
	digest [sha256.Size]byte
	// tagsDigest changes whenever a tag does.
	tagsDigest [sha256.Size]byte
	// headRef is the output of `symbolic-ref HEAD` this snapshot was
	// read with.
	headRef []byte
	// tags are read on first use and shared with later snapshots whose
	// tags did not change: a push to a branch of a repository with
	// thousands of tags does not re-read them, and a repository nobody
	// selects tags from never reads them at all.
	tags *tagSet
}

// tagSet is the lazily read tag list of one state of a mirror's tags.
type tagSet struct {
	mu     sync.Mutex
	loaded bool
	tags   []tagRef
}

// readSnapshot lists the mirror's refs, which only reads the packed-refs
// file, not any object.
func (c *Cache) readSnapshot(ctx context.Context, dir string, prev *snapshot) (*snapshot, error) {
	return c.readSnapshotHead(ctx, dir, prev, nil)
}

// readSnapshotHead is readSnapshot for a caller that knows the output of
// `symbolic-ref HEAD` (nil when it does not), such as a push, which leaves
// HEAD alone.
func (c *Cache) readSnapshotHead(ctx context.Context, dir string, prev *snapshot, head []byte) (*snapshot, error) {
	out, err := c.output(ctx, dir, nil, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/", "refs/tags/", "refs/kargo/")
	if err != nil {
		return nil, fmt.Errorf("list refs of mirror %s: %w", dir, err)
	}
	if head == nil {
		// symbolic-ref fails on a detached HEAD, which a mirror never
		// has; an unknown default branch is represented by "".
		head, _ = c.output(ctx, dir, nil, "symbolic-ref", "--quiet", "HEAD")
		if head == nil {
			head = []byte{}
		}
	}
	s := &snapshot{
		headRef:       head,
		heads:         map[string]string{},
		defaultBranch: strings.TrimPrefix(strings.TrimSpace(string(head)), "refs/heads/"),
	}
	// The digests cover the remote's branches and tags and its default
	// branch, not refs/kargo/HEAD, which is the mirror's own bookkeeping.
	all, tags := sha256.New(), sha256.New()
	all.Write(head)
	for _, line := range strings.Split(string(out), "\n") {
		sha, name, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(name, "refs/heads/"):
			s.heads[strings.TrimPrefix(name, "refs/heads/")] = sha
			all.Write([]byte(line + "\n"))
		case strings.HasPrefix(name, "refs/tags/"):
			all.Write([]byte(line + "\n"))
			tags.Write([]byte(line + "\n"))
		case name == "refs/kargo/HEAD":
			s.remoteHead = sha
		}
	}
	copy(s.digest[:], all.Sum(nil))
	copy(s.tagsDigest[:], tags.Sum(nil))
	if prev != nil && prev.tagsDigest == s.tagsDigest {
		s.tags = prev.tags
	} else {
		s.tags = &tagSet{}
	}
	return s, nil
}

// tagFormat prints, per tag: name, type and SHA of the object, type and SHA
// of the object a tag object points at, creator date, and subject and
// author of both. The fields of the pointed-at object are empty for a
// lightweight tag.
const tagFormat = "%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)%00" +
	"%(creatordate:unix)%00%(subject)%00%(authorname)%00%(authoremail)%00" +
	"%(*subject)%00%(*authorname)%00%(*authoremail)%1e"

const tagFields = 12

// loadTags returns the snapshot's tags, sorted by name, reading them with
// one for-each-ref the first time. That one process also reads every
// tag's commit, so no per-tag process is needed.
func (c *Cache) loadTags(ctx context.Context, dir string, s *snapshot) ([]tagRef, error) {
	s.tags.mu.Lock()
	defer s.tags.mu.Unlock()
	if s.tags.loaded {
		return s.tags.tags, nil
	}
	out, err := c.output(ctx, dir, nil, "for-each-ref", "--format="+tagFormat, "refs/tags/")
	if err != nil {
		return nil, fmt.Errorf("list tags of mirror %s: %w", dir, err)
	}
	var list []tagRef
	var nested []int
	for _, rec := range bytes.Split(out, []byte("\x1e\n")) {
		if len(rec) == 0 {
			continue
		}
		f := strings.Split(string(rec), "\x00")
		if len(f) != tagFields {
			return nil, fmt.Errorf("list tags of mirror %s: unexpected for-each-ref output %q", dir, rec)
		}
		typ, sha, peeledType, peeled := f[1], f[2], f[3], f[4]
		t := tagRef{name: f[0]}
		t.date, _ = strconv.ParseInt(f[5], 10, 64)
		switch {
		case typ == "commit":
			t.commit, t.commitInfo = sha, newCommitInfo(f[6], f[7], f[8])
		case typ == "tag" && peeledType == "commit":
			t.commit, t.commitInfo = peeled, newCommitInfo(f[9], f[10], f[11])
		case typ == "tag" && peeledType == "tag":
			// A tag of a tag: peel the rest of the chain below.
			t.commit = peeled
			nested = append(nested, len(list))
		default:
			// Tags of trees and blobs name no commit to deploy.
			continue
		}
		t.version = parseTagVersion(t.name)
		list = append(list, t)
	}
	if len(nested) > 0 {
		list = c.peelNested(ctx, dir, list, nested)
	}
	s.tags.tags, s.tags.loaded = list, true
	return list, nil
}

// peelNested resolves tags of tags, which for-each-ref peels only one level,
// and drops those that do not end at a commit.
func (c *Cache) peelNested(ctx context.Context, dir string, tags []tagRef, nested []int) []tagRef {
	drop := map[int]bool{}
	for _, i := range nested {
		out, err := c.output(ctx, dir, nil, "log", "-1", "--no-walk", "--format=%H%x00%s%x00%an%x00%ae", tags[i].commit+"^{commit}", "--")
		f := strings.Split(strings.TrimSpace(string(out)), "\x00")
		if err != nil || len(f) != 4 {
			drop[i] = true
			continue
		}
		tags[i].commit, tags[i].commitInfo = f[0], newCommitInfo(f[1], f[2], "<"+f[3]+">")
	}
	kept := tags[:0]
	for i, t := range tags {
		if !drop[i] {
			kept = append(kept, t)
		}
	}
	return kept
}

// maxMessage bounds GitCommit.Message: it is shown in lists and stored in
// every Freight, and a subject line longer than this is a paragraph.
const maxMessage = 200

// newCommitInfo formats a subject and an author as GitCommit carries them.
// email may be enclosed in angle brackets, as for-each-ref prints it.
func newCommitInfo(subject, name, email string) commitInfo {
	email = strings.TrimSuffix(strings.TrimPrefix(email, "<"), ">")
	author := name
	if email != "" {
		author = fmt.Sprintf("%s <%s>", name, email)
	}
	return commitInfo{subject: firstLine(subject), author: author}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= maxMessage {
		return s
	}
	r := []rune(s)
	return string(r[:maxMessage-1]) + "…"
}
