package git

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// Bounds of TrailedDiffs when a request leaves them zero.
const (
	// DefaultDiffCommits is how many matching commits are shown.
	DefaultDiffCommits = 5
	// DefaultDiffFiles is how many files of one commit are shown.
	DefaultDiffFiles = 50
	// DefaultDiffBytes bounds the patch text of one commit.
	DefaultDiffBytes = 256 << 10
)

// DiffRequest asks for the commits of a branch that carry a trailer, with
// what each changed.
type DiffRequest struct {
	BranchRequest
	// Trailer is the key and value a commit must carry, such as
	// {"Kargo-Promotion", uid}. Required: the commits shown are only those
	// that say they were made for it.
	Trailer [2]string
	// MaxCommits, MaxFiles and MaxBytes bound the answer (commits shown,
	// files of each commit given a patch, bytes of a commit's patches);
	// the defaults above when zero.
	MaxCommits, MaxFiles, MaxBytes int
}

// FileDiff is what a commit changed in one file.
type FileDiff struct {
	// Path is the file's path in the repository.
	Path string
	// Status is A (added), M (modified), D (deleted), T (type changed).
	Status string
	// Patch is the unified diff of the file, empty for a file past the
	// bounds (Truncated) or a binary one.
	Patch string
	// Binary is true when git deems either side binary.
	Binary bool
	// Truncated is true when the patch was cut at the request's MaxBytes.
	Truncated bool
}

// CommitDiff is a commit and what it changed.
type CommitDiff struct {
	ID, Parent  string
	Subject     string
	Author      string
	AuthorEmail string
	// Time is the committer date, RFC 3339.
	Time string
	// Files are the first MaxFiles changed files, in git's order.
	Files []FileDiff
	// MoreFiles counts the changed files left out.
	MoreFiles int
}

// TrailedDiffs returns the commits among the last ones of req.Branch (as
// many as RecentCommits reads) that carry req.Trailer, newest first, each
// with the patch of what it changed against its first parent. Only the
// contents of the files shown are fetched, through the mirror's usual
// connection (credentials, egress policy), never more than MaxFiles of
// each commit. A branch that does not exist has no commits.
func (c *Cache) TrailedDiffs(ctx context.Context, req DiffRequest) ([]CommitDiff, error) {
	if req.Trailer[0] == "" || req.Trailer[1] == "" {
		return nil, fmt.Errorf("diff commits of %s: %w: a trailer to look for is required", Redact(req.RepoURL), ErrInvalidRequest)
	}
	if req.MaxCommits <= 0 {
		req.MaxCommits = DefaultDiffCommits
	}
	if req.MaxFiles <= 0 {
		req.MaxFiles = DefaultDiffFiles
	}
	if req.MaxBytes <= 0 {
		req.MaxBytes = DefaultDiffBytes
	}
	r, err := parseRemote(req.RepoURL, req.Creds)
	if err != nil {
		return nil, err
	}
	recent, err := c.RecentCommits(ctx, req.BranchRequest)
	if err != nil {
		return nil, err
	}
	e := c.entryFor(r, req.InsecureSkipTLSVerify)
	var out []CommitDiff
	for _, rc := range recent {
		if rc.Trailers[req.Trailer[0]] != req.Trailer[1] {
			continue
		}
		if len(out) == req.MaxCommits {
			break
		}
		d, err := c.commitDiff(ctx, e, rc.ID, req.MaxFiles, req.MaxBytes)
		if err != nil {
			return nil, fmt.Errorf("diff commit %s of %s: %w", rc.ID, r.url, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// commitDiff reads commit id of the mirror e and its patch, fetching the
// contents of the files it shows first.
func (c *Cache) commitDiff(ctx context.Context, e *entry, id string, maxFiles, maxBytes int) (CommitDiff, error) {
	d := CommitDiff{ID: id}
	head, err := c.output(ctx, e.dir, nil, "--git-dir="+e.dir, "show", "-s", "--format=%P%x1f%an%x1f%ae%x1f%cI%x1f%s", id, "--")
	if err != nil {
		return d, err
	}
	f := strings.Split(strings.TrimRight(string(head), "\n"), "\x1f")
	if len(f) != 5 {
		return d, fmt.Errorf("unexpected commit header %q", head)
	}
	parents := strings.Fields(f[0])
	d.Author, d.AuthorEmail, d.Time, d.Subject = f[1], f[2], f[3], f[4]
	base := emptyTree
	if len(parents) > 0 {
		d.Parent = parents[0]
		base = parents[0]
	}
	// The changed files, with their blob IDs: trees only, which the
	// blob-less mirror has.
	raw, err := c.output(ctx, e.dir, nil, "--git-dir="+e.dir, "diff-tree", "-r", "-z", "--no-renames", "--raw", base, id, "--")
	if err != nil {
		return d, err
	}
	type change struct{ status, path, oldBlob, newBlob string }
	var changes []change
	fields := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	for i := 0; i+1 < len(fields); i += 2 {
		// ":100644 100644 OLD NEW M" then the path.
		meta := strings.Fields(strings.TrimPrefix(fields[i], ":"))
		if len(meta) != 5 {
			return d, fmt.Errorf("unexpected diff-tree line %q", fields[i])
		}
		changes = append(changes, change{status: meta[4], path: fields[i+1], oldBlob: meta[2], newBlob: meta[3]})
	}
	if len(changes) > maxFiles {
		d.MoreFiles = len(changes) - maxFiles
		changes = changes[:maxFiles]
	}
	if len(changes) == 0 {
		return d, nil
	}
	var blobs, paths []string
	for _, ch := range changes {
		for _, b := range []string{ch.oldBlob, ch.newBlob} {
			if strings.Trim(b, "0") != "" {
				blobs = append(blobs, b)
			}
		}
		paths = append(paths, ch.path)
	}
	if err := c.fetchBlobs(ctx, e, blobs); err != nil {
		return d, err
	}
	// One patch for the files shown, cut at maxBytes; git writes the files
	// in diff-tree's order, each starting with "diff --git".
	var stdout bytes.Buffer
	args := append([]string{"--git-dir=" + e.dir, "-c", "core.quotePath=false", "diff-tree", "-p", "-r", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv", "--full-index", base, id, "--"}, paths...)
	stderr, err := c.run(ctx, gitRun{dir: e.dir, env: c.gitEnv(c.baseConfig()), stdout: &limitedWriter{w: &stdout, n: maxBytes + 1}, args: args})
	if err != nil {
		return d, fmt.Errorf("git diff-tree: %w: %s", err, strings.TrimSpace(stderr))
	}
	cut := stdout.Len() > maxBytes
	patch := stdout.String()
	if cut {
		patch = patch[:maxBytes]
	}
	parts := splitPatch(patch)
	for i, ch := range changes {
		fd := FileDiff{Path: ch.path, Status: ch.status}
		if i < len(parts) {
			fd.Patch = parts[i]
			fd.Binary = strings.Contains(firstLines(parts[i], 6), "\nBinary files ")
			fd.Truncated = cut && i == len(parts)-1
		} else {
			fd.Truncated = cut
		}
		d.Files = append(d.Files, fd)
	}
	return d, nil
}

// splitPatch splits diff-tree -p output into one patch per file.
func splitPatch(p string) []string {
	var parts []string
	for p != "" {
		next := strings.Index(p[1:], "\ndiff --git ")
		if next < 0 {
			parts = append(parts, p)
			break
		}
		parts = append(parts, p[:next+2])
		p = p[next+2:]
	}
	return parts
}

func firstLines(s string, n int) string {
	i := 0
	for ; n > 0; n-- {
		j := strings.IndexByte(s[i:], '\n')
		if j < 0 {
			return s
		}
		i += j + 1
	}
	return "\n" + s[:i]
}

// fetchBlobs fetches blobs into the mirror, in one batch, under the
// mirror's lock, with the cache's credentials and through the egress
// policy (as hydrate does for trees). git 2.39 cannot ask whether a
// blob-less mirror holds an object without trying to fetch it lazily (which
// the mirror's configuration refuses), so it asks for all of them: at most
// two per file shown.
func (c *Cache) fetchBlobs(ctx context.Context, e *entry, blobs []string) error {
	if len(blobs) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg := c.networkConfig(e.remote, e.skipTLSVerify)
	cfg["remote.origin.url"] = e.remote.url
	cfg["fetch.negotiationAlgorithm"] = "noop"
	fctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	stderr, err := c.runNet(fctx, e.remote, cfg, gitRun{
		dir:   e.dir,
		stdin: strings.NewReader(strings.Join(blobs, "\n") + "\n"),
		args:  []string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin", "origin"},
	})
	if err != nil {
		return networkError(fctx, "fetch file contents of", e.remote, stderr, err)
	}
	return nil
}
