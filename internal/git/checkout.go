package git

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// emptyTree is the tree of no files, which git knows without storing it.
const emptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// CheckoutRequest asks Cache.Checkout for work trees of one repository, as
// the git-clone promotion step does.
type CheckoutRequest struct {
	// RepoURL is the repository, as in a subscription.
	RepoURL string
	// Creds are the credentials to read with; nil for anonymous.
	Creds *credentials.Credentials
	// InsecureSkipTLSVerify turns off TLS verification for this
	// repository, for the checkouts and the pushes from them.
	InsecureSkipTLSVerify bool
	// AuthorName and AuthorEmail are the default author of commits made
	// in the work trees (CommitWorkTree).
	AuthorName, AuthorEmail string
	// Checkouts are the work trees to make.
	Checkouts []Checkout
	// Owner, when set, lets Checkout reuse the work trees it made for
	// earlier requests of the same Owner and repository (and credentials),
	// once ReleaseWorkTrees gave them back: only the files that differ are
	// written. Work trees are never reused across owners; the git-clone
	// step passes the Promotion's project.
	Owner string
}

// Checkout is one work tree of a CheckoutRequest.
type Checkout struct {
	// Dir is the work tree's directory, absolute. It must not exist, be
	// empty, or be a work tree that Checkout made (which is replaced).
	Dir string
	// Branch, Tag or Commit (a full SHA) is what to check out, at most one
	// of them; none means the remote's default branch.
	Branch, Tag, Commit string
	// Create, with Branch, makes a branch that does not exist on the
	// remote a new branch without history or files (an orphan), which a
	// later push creates.
	Create bool
	// Sparse, when set, are the directories (relative to the repository's
	// root) whose files alone are written; commits keep the others as
	// they are.
	Sparse []string
}

// WorkTree is a work tree that Checkout made: a repository in Dir/.git
// that borrows the objects of the Cache's mirror (as `git clone --shared`
// does), with Dir's files checked out.
type WorkTree struct {
	Dir string
	// RepoURL is the repository it was checked out from.
	RepoURL               string
	InsecureSkipTLSVerify bool
	// Branch is the branch checked out, "" for a tag or a commit.
	Branch string
	// Head is the commit checked out, "" for a new branch (Create) that
	// has no commit yet.
	Head string
	// authorName and authorEmail are the work tree's default author, as
	// OpenWorkTree read them.
	authorName, authorEmail string
	// tree is Head's tree when known without asking git.
	tree string
	// state is the work tree's workTreeFile as OpenWorkTree read it.
	state workTreeState
}

// workTreeKey is the configuration key of a work tree's repository URL,
// which marks the work trees that Checkout made.
const workTreeKey = "kargo.repoURL"

// Checkout makes the work trees of req from the mirror that Discover and
// Commit share, after one fetch: nothing is cloned, the work trees' files
// are written from the mirror (whose missing file contents for exactly
// those trees are fetched in one request first), and their repositories
// borrow the mirror's objects, so a checkout costs about a fetch and the
// writing of its files. Errors wrap ErrInvalidRequest or the sourceerr
// sentinels, as Commit's do.
func (c *Cache) Checkout(ctx context.Context, req CheckoutRequest) ([]WorkTree, error) {
	r, err := parseRemote(req.RepoURL, req.Creds)
	if err != nil {
		return nil, err
	}
	op := "check out " + r.url
	if err := r.checkTransport(); err != nil {
		return nil, err
	}
	if msg := c.unsupported(r); msg != "" {
		return nil, fmt.Errorf("%s: %w: %s", op, ErrInvalidRequest, msg)
	}
	for _, s := range []string{req.AuthorName, req.AuthorEmail} {
		if strings.ContainsAny(s, "<>\n\r\x00") {
			return nil, fmt.Errorf("%s: %w: author %q contains one of < > or a line break", op, ErrInvalidRequest, s)
		}
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	e := c.entryFor(r, req.InsecureSkipTLSVerify)
	snap := c.currentSnapshot(e, req.Checkouts)
	if snap == nil {
		if snap, err = c.syncForWrite(ctx, e, e.syncStarted.Load()); err != nil {
			return nil, err
		}
	}
	out := make([]WorkTree, 0, len(req.Checkouts))
	for _, co := range req.Checkouts {
		wt, err := c.checkoutOne(ctx, e, snap, req, co)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, wt)
	}
	return out, nil
}

// currentSnapshot is the mirror's refs when they are current enough for
// the checkouts cos without a fetch (Options.CheckoutMaxAge), else nil.
func (c *Cache) currentSnapshot(e *entry, cos []Checkout) *snapshot {
	maxAge := c.opts.CheckoutMaxAge
	if maxAge <= 0 {
		return nil
	}
	e.state.Lock()
	asked := e.refreshAsked
	e.state.Unlock()
	now := c.opts.Now()
	fresh := func(at time.Time) bool { return at.After(asked) && now.Sub(at) < maxAge }
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.local == nil {
		return nil
	}
	if fresh(e.syncedAt) {
		return e.local
	}
	// Else every branch checked out must be one this process pushed
	// recently; a commit needs no refs at all.
	for _, co := range cos {
		switch {
		case co.Commit != "":
		case co.Branch == "" || co.Tag != "":
			return nil
		case !fresh(e.pushedAt[strings.TrimPrefix(co.Branch, "refs/heads/")]):
			return nil
		}
	}
	return e.local
}

func (c *Cache) checkoutOne(ctx context.Context, e *entry, snap *snapshot, req CheckoutRequest, co Checkout) (WorkTree, error) {
	wt := WorkTree{Dir: co.Dir, RepoURL: strings.TrimSpace(req.RepoURL), InsecureSkipTLSVerify: req.InsecureSkipTLSVerify, Branch: strings.TrimPrefix(co.Branch, "refs/heads/")}
	n := 0
	for _, s := range []string{co.Branch, co.Tag, co.Commit} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return wt, fmt.Errorf("%w: name one of a branch, a tag and a commit", ErrInvalidRequest)
	}
	if !filepath.IsAbs(co.Dir) {
		return wt, fmt.Errorf("%w: directory %q is not absolute", ErrInvalidRequest, co.Dir)
	}
	sparse, err := sparsePatterns(co.Sparse)
	if err != nil {
		return wt, err
	}
	switch {
	case co.Commit != "":
		sha := strings.ToLower(co.Commit)
		if !isHex(sha) {
			return wt, fmt.Errorf("%w: commit %q is not a full SHA", ErrInvalidRequest, co.Commit)
		}
		if err := c.ensureCommit(ctx, e, sha); err != nil {
			return wt, err
		}
		wt.Head = sha
	case co.Tag != "":
		tag := strings.TrimPrefix(co.Tag, "refs/tags/")
		if err := checkBranchName(tag); err != nil {
			return wt, fmt.Errorf("%w: tag: %w", ErrInvalidRequest, err)
		}
		sha, err := c.output(ctx, e.dir, nil, "rev-parse", "--verify", "--quiet", "refs/tags/"+tag+"^{commit}")
		if err != nil {
			return wt, fmt.Errorf("%w: tag %q does not exist", sourceerr.ErrNotFound, tag)
		}
		wt.Head = strings.TrimSpace(string(sha))
	case wt.Branch != "":
		if err := checkBranchName(wt.Branch); err != nil {
			return wt, fmt.Errorf("%w: branch: %w", ErrInvalidRequest, err)
		}
		wt.Head = snap.heads[wt.Branch]
		if wt.Head == "" && !co.Create {
			return wt, fmt.Errorf("%w: branch %q does not exist; to start it with this promotion, set create", sourceerr.ErrNotFound, wt.Branch)
		}
	default:
		wt.Branch = snap.defaultBranch
		wt.Head = snap.heads[wt.Branch]
		if wt.Head == "" {
			return wt, fmt.Errorf("%w: the repository has no default branch; name a branch, a tag or a commit", sourceerr.ErrNotFound)
		}
	}
	if wt.Head != "" {
		tree, err := c.treeOf(ctx, e, wt.Head)
		if err != nil {
			return wt, err
		}
		if err := c.hydrate(ctx, e, tree); err != nil {
			return wt, err
		}
		wt.tree = tree
	}
	// A kept work tree of the same owner and mirror is reused; sparse
	// checkouts and new branches without a commit are always made anew.
	key := ""
	if req.Owner != "" && sparse == "" && wt.Head != "" {
		key = poolKey(req.Owner, e)
		reused, err := c.checkoutKept(ctx, e, wt, req, key)
		if err != nil {
			return wt, err
		}
		if reused {
			return wt, nil
		}
	}
	if err := prepareDir(co.Dir); err != nil {
		return wt, err
	}
	base, err := c.initWorkTree(ctx, e, wt, req, sparse)
	if err != nil {
		return wt, fmt.Errorf("make work tree %s: %w", co.Dir, err)
	}
	if key != "" {
		// Lent from its first use, so that it is kept after.
		if err := c.lendTree(&pooledTree{key: key, dir: co.Dir, baseConfig: base, uses: 1}); err != nil {
			return wt, fmt.Errorf("make work tree %s: %w", co.Dir, err)
		}
	}
	return wt, nil
}

// prepareDir makes dir an empty directory: one that does not exist is
// made, an earlier work tree of Checkout (a step run again) is replaced,
// and anything else that is not empty is refused.
func prepareDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return fmt.Errorf("read directory %s: %w", dir, err)
	case len(entries) == 0:
		return nil
	}
	if !isWorkTree(dir) {
		return fmt.Errorf("%w: directory %s is not empty; check out into a new path", ErrInvalidRequest, dir)
	}
	removeAll(dir)
	return os.MkdirAll(dir, 0o755)
}

// isWorkTree says whether dir holds a work tree that Checkout made.
func isWorkTree(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, ".git"))
	if err != nil || !fi.IsDir() {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, ".git", "config"))
	return err == nil && bytes.Contains(b, []byte("[kargo]"))
}

// initWorkTree makes the repository of wt and checks its files out. It
// returns the configuration that `git init` wrote, before wt's settings.
func (c *Cache) initWorkTree(ctx context.Context, e *entry, wt WorkTree, req CheckoutRequest, sparse string) ([]byte, error) {
	gitDir := filepath.Join(wt.Dir, ".git")
	// No template: no sample hooks, nothing of the host's.
	if _, err := c.output(ctx, wt.Dir, nil, "init", "--quiet", "--template=", "--", wt.Dir); err != nil {
		return nil, err
	}
	base, err := readBaseConfig(wt.Dir)
	if err != nil {
		return nil, err
	}
	alternates := filepath.Join(gitDir, "objects", "info", "alternates")
	if err := os.MkdirAll(filepath.Dir(alternates), 0o755); err != nil {
		return nil, err
	}
	mirrorObjects, err := filepath.Abs(filepath.Join(e.dir, "objects"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(alternates, []byte(mirrorObjects+"\n"), 0o644); err != nil {
		return nil, err
	}
	return base, c.writeWorkTreeState(ctx, e, wt, req, sparse)
}

// writeWorkTreeState writes what Checkout records in the repository of the
// work tree wt, which has no refs and the configuration of `git init`: its
// settings, HEAD, refs, and its index and files as wt.Head's tree.
func (c *Cache) writeWorkTreeState(ctx context.Context, _ *entry, wt WorkTree, req CheckoutRequest, sparse string) error {
	gitDir := filepath.Join(wt.Dir, ".git")
	settings := [][2]string{{workTreeKey, wt.RepoURL}, {"kargo.insecureSkipTLSVerify", strconv.FormatBool(wt.InsecureSkipTLSVerify)}}
	if req.AuthorName != "" {
		settings = append(settings, [2]string{"user.name", req.AuthorName})
	}
	if req.AuthorEmail != "" {
		settings = append(settings, [2]string{"user.email", req.AuthorEmail})
	}
	if sparse != "" {
		if err := os.MkdirAll(filepath.Join(gitDir, "info"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(gitDir, "info", "sparse-checkout"), []byte(sparse), 0o644); err != nil {
			return err
		}
		settings = append(settings, [2]string{"core.sparseCheckout", "true"})
	}
	// The settings, HEAD and the refs are written as files rather than by
	// a git command each: a checkout is on every promotion's path. The
	// repository is the steps' alone and has no packed refs.
	if err := appendConfig(filepath.Join(gitDir, "config"), settings); err != nil {
		return err
	}
	if err := writeWorkTreeFile(gitDir, workTreeState{RepoURL: wt.RepoURL, InsecureSkipTLSVerify: wt.InsecureSkipTLSVerify,
		AuthorName: req.AuthorName, AuthorEmail: req.AuthorEmail, Head: wt.Head, Tree: wt.tree}); err != nil {
		return err
	}
	head := wt.Head + "\n"
	if wt.Branch != "" {
		if err := os.WriteFile(filepath.Join(gitDir, "HEAD"), []byte("ref: refs/heads/"+wt.Branch+"\n"), 0o644); err != nil {
			return err
		}
		if wt.Head == "" {
			return nil
		}
		if err := writeLooseRef(gitDir, "refs/heads/"+wt.Branch, wt.Head); err != nil {
			return err
		}
	} else if err := os.WriteFile(filepath.Join(gitDir, "HEAD"), []byte(head), 0o644); err != nil {
		return err
	}
	// Where the work tree started, which the push excludes from what it
	// packs and rebases from.
	if err := writeLooseRef(gitDir, baseRef, wt.Head); err != nil {
		return err
	}
	// --reset -u writes only the files that differ from the index (all of
	// them in a new work tree), including those an earlier edit changed.
	if _, err := c.inWorkTree(ctx, wt.Dir, nil, "read-tree", "--reset", "-u", "HEAD"); err != nil {
		return err
	}
	return nil
}

// sparsePatterns turns the directories of a sparse checkout into the
// patterns of info/sparse-checkout, refusing what is not a plain
// repository-relative directory.
func sparsePatterns(dirs []string) (string, error) {
	var b strings.Builder
	for _, d := range dirs {
		clean := strings.Trim(filepath.ToSlash(d), "/")
		bad := clean == "" || clean == "." || strings.ContainsAny(clean, "*?[]!#\\\n\r\x00")
		for _, part := range strings.Split(clean, "/") {
			if part == ".." || part == "." || part == "" {
				bad = true
			}
		}
		if bad {
			return "", fmt.Errorf("%w: sparse directory %q: name a directory relative to the repository's root, without patterns", ErrInvalidRequest, d)
		}
		b.WriteString("/" + clean + "/\n")
	}
	return b.String(), nil
}

// baseRef is the commit a work tree was checked out at.
const baseRef = "refs/kargo/base"

// workTreeConfig is the configuration of git commands in work trees. The
// command-line configuration outranks the repository's, which only the
// git steps write, as a second line of defence against settings that run
// programs.
func (c *Cache) workTreeConfig() map[string]string {
	cfg := c.baseConfig()
	cfg["core.fsmonitor"] = "false"
	cfg["core.hooksPath"] = os.DevNull
	cfg["commit.gpgSign"] = "false"
	return cfg
}

// inWorkTree runs a local git command in the work tree at dir.
func (c *Cache) inWorkTree(ctx context.Context, dir string, extraEnv []string, args ...string) ([]byte, error) {
	var stdout bytes.Buffer
	env := append(c.gitEnv(c.workTreeConfig()), "GIT_DIR="+filepath.Join(dir, ".git"), "GIT_WORK_TREE="+dir)
	stderr, err := c.run(ctx, gitRun{dir: dir, env: append(env, extraEnv...), stdout: &stdout, args: args})
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr))
	}
	return stdout.Bytes(), nil
}

// workTreeFile, in a work tree's .git, records what Checkout checked it
// out from (workTreeState), so that the steps after git-clone read it
// without running git. A step cannot write into .git.
const workTreeFile = "kargo-worktree.json"

// workTreeState is the content of workTreeFile.
type workTreeState struct {
	RepoURL               string `json:"repoURL"`
	InsecureSkipTLSVerify bool   `json:"insecureSkipTLSVerify,omitempty"`
	AuthorName            string `json:"authorName,omitempty"`
	AuthorEmail           string `json:"authorEmail,omitempty"`
	// Head and Tree are a commit and its tree, the HEAD that Checkout or
	// CommitWorkTree left, so that the next commit and push know HEAD's
	// tree without asking git.
	Head string `json:"head,omitempty"`
	Tree string `json:"tree,omitempty"`
}

func writeWorkTreeFile(gitDir string, st workTreeState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(gitDir, workTreeFile), b)
}

// writeFileAtomic replaces the file at path with b, so that a crash leaves
// either the old content or the new.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeLooseRef points ref of the work tree repository at gitDir to sha,
// as update-ref would in a repository without packed refs.
func writeLooseRef(gitDir, ref, sha string) error {
	path := filepath.Join(gitDir, filepath.FromSlash(ref))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(path, []byte(sha+"\n"))
}

// readLooseRef reads ref of the work tree repository at gitDir, "" when
// it is not a loose ref holding a SHA.
func readLooseRef(gitDir, ref string) string {
	b, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(ref)))
	if err != nil {
		return ""
	}
	if sha := strings.TrimSpace(string(b)); isHex(sha) {
		return sha
	}
	return ""
}

// OpenWorkTree reads what the work tree at dir was checked out from and
// where its HEAD is. A directory that Checkout did not make is refused.
func (c *Cache) OpenWorkTree(ctx context.Context, dir string) (WorkTree, error) {
	wt := WorkTree{Dir: dir}
	if !isWorkTree(dir) {
		return wt, fmt.Errorf("%w: %s is not a work tree checked out by git-clone", ErrInvalidRequest, dir)
	}
	gitDir := filepath.Join(dir, ".git")
	var st workTreeState
	if b, err := os.ReadFile(filepath.Join(gitDir, workTreeFile)); err == nil && json.Unmarshal(b, &st) == nil && st.RepoURL != "" {
		wt.RepoURL, wt.InsecureSkipTLSVerify = st.RepoURL, st.InsecureSkipTLSVerify
		wt.authorName, wt.authorEmail = st.AuthorName, st.AuthorEmail
		wt.state = st
	} else {
		// A work tree of an earlier version, which kept its settings in
		// its configuration only.
		out, err := c.inWorkTree(ctx, dir, nil, "config", "--local", "--list", "-z")
		if err != nil {
			return wt, err
		}
		cfg := map[string]string{}
		for _, entry := range strings.Split(string(out), "\x00") {
			key, value, _ := strings.Cut(entry, "\n")
			cfg[strings.ToLower(key)] = value
		}
		wt.RepoURL = cfg[strings.ToLower(workTreeKey)]
		wt.InsecureSkipTLSVerify = cfg["kargo.insecureskiptlsverify"] == "true"
		wt.authorName, wt.authorEmail = cfg["user.name"], cfg["user.email"]
	}
	head := ""
	if b, err := os.ReadFile(filepath.Join(gitDir, "HEAD")); err == nil {
		line := strings.TrimSpace(string(b))
		if ref, ok := strings.CutPrefix(line, "ref: "); ok {
			wt.Branch = strings.TrimPrefix(ref, "refs/heads/")
			// The steps write loose refs only; anything else is asked of
			// git.
			if b, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(ref))); err == nil {
				head = strings.TrimSpace(string(b))
			} else if errors.Is(err, fs.ErrNotExist) && !fileExists(filepath.Join(gitDir, "packed-refs")) {
				// A new branch without a commit.
				return wt, nil
			}
		} else {
			head = line
		}
	}
	if isHex(head) {
		wt.Head = head
		if wt.state.Head == head {
			wt.tree = wt.state.Tree
		}
		return wt, nil
	}
	if out, err := c.inWorkTree(ctx, dir, nil, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err == nil {
		wt.Head = strings.TrimSpace(string(out))
	}
	return wt, nil
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// appendConfig adds settings (section.key, value) to the git configuration
// file at path. Values are quoted, so that none can end its line or start
// another setting; one that holds a line break or a NUL is refused.
func appendConfig(path string, settings [][2]string) error {
	var b strings.Builder
	for _, kv := range settings {
		section, key, ok := strings.Cut(kv[0], ".")
		if !ok || strings.ContainsAny(kv[1], "\n\r\x00") {
			return fmt.Errorf("%w: git setting %s: the value holds a line break", ErrInvalidRequest, kv[0])
		}
		value := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(kv[1])
		fmt.Fprintf(&b, "[%s]\n\t%s = \"%s\"\n", section, key, value)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WorkTreeCommitRequest describes a commit of everything in a work tree.
type WorkTreeCommitRequest struct {
	// Dir is the work tree.
	Dir string
	// Message is the commit message; its first line is the subject.
	Message string
	// Trailers are appended to the message as git trailers.
	Trailers [][2]string
	// AuthorName and AuthorEmail are the commit's author and committer;
	// when empty, the work tree's (CheckoutRequest.AuthorName), else
	// "Kargo" and "kargo@localhost".
	AuthorName, AuthorEmail string
	// Date is the commit's date; the Cache's clock when zero. A caller
	// that may make the same commit again (a promotion rebuilding its
	// work directory) passes a fixed date, so that it gets the same
	// commit.
	Date time.Time
}

// CommitWorkTree commits every change of the work tree at req.Dir (new,
// changed and deleted files; .gitignore applies) onto its HEAD, which
// moves to the new commit. When nothing changed, nothing is committed and
// the result is HEAD ("" for a new branch without commits) with Changed
// false.
func (c *Cache) CommitWorkTree(ctx context.Context, req WorkTreeCommitRequest) (commit string, changed bool, err error) {
	wt, err := c.OpenWorkTree(ctx, req.Dir)
	if err != nil {
		return "", false, err
	}
	op := "commit in " + req.Dir
	msg := strings.TrimRight(req.Message, " \t\r\n")
	if strings.TrimSpace(msg) == "" {
		return "", false, fmt.Errorf("%s: %w: the commit message is empty", op, ErrInvalidRequest)
	}
	if strings.ContainsRune(msg, 0) {
		return "", false, fmt.Errorf("%s: %w: the commit message holds a NUL byte", op, ErrInvalidRequest)
	}
	if err := checkTrailers(req.Trailers); err != nil {
		return "", false, fmt.Errorf("%s: %w: %w", op, ErrInvalidRequest, err)
	}
	name, email := req.AuthorName, req.AuthorEmail
	for _, s := range []string{name, email} {
		if strings.ContainsAny(s, "<>\n\r\x00") {
			return "", false, fmt.Errorf("%s: %w: author %q contains one of < > or a line break", op, ErrInvalidRequest, s)
		}
	}
	if name == "" {
		name = wt.authorName
	}
	if email == "" {
		email = wt.authorEmail
	}
	if _, err := c.inWorkTree(ctx, req.Dir, nil, "add", "--all"); err != nil {
		return "", false, fmt.Errorf("%s: %w", op, err)
	}
	out, err := c.inWorkTree(ctx, req.Dir, nil, "write-tree")
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", op, err)
	}
	tree := strings.TrimSpace(string(out))
	headTree := emptyTree
	if wt.tree != "" {
		headTree = wt.tree
	} else if wt.Head != "" {
		out, err := c.inWorkTree(ctx, req.Dir, nil, "rev-parse", wt.Head+"^{tree}")
		if err != nil {
			return "", false, fmt.Errorf("%s: %w", op, err)
		}
		headTree = strings.TrimSpace(string(out))
	}
	if tree == headTree {
		return wt.Head, false, nil
	}
	if len(req.Trailers) > 0 {
		var b strings.Builder
		b.WriteString(msg + "\n\n")
		for _, t := range req.Trailers {
			b.WriteString(t[0] + ": " + t[1] + "\n")
		}
		msg = b.String()
	} else {
		msg += "\n"
	}
	var parents []string
	if wt.Head != "" {
		parents = []string{wt.Head}
	}
	date := req.Date
	if date.IsZero() {
		date = c.opts.Now()
	}
	sha, err := c.commitIn(ctx, req.Dir, tree, parents, msg, ident{name, email, date}, ident{name, email, date})
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", op, err)
	}
	if err := c.moveHead(req.Dir, wt, sha, tree); err != nil {
		return "", false, fmt.Errorf("%s: %w", op, err)
	}
	return sha, true, nil
}

// moveHead moves the HEAD of the work tree wt (as OpenWorkTree read it) to
// commit, whose tree is tree, and records both in its workTreeFile. HEAD
// must still be wt.Head: only the git steps move it, one at a time.
func (c *Cache) moveHead(dir string, wt WorkTree, commit, tree string) error {
	gitDir := filepath.Join(dir, ".git")
	ref := "HEAD"
	if wt.Branch != "" {
		ref = "refs/heads/" + wt.Branch
	}
	if cur := readLooseRef(gitDir, ref); cur != wt.Head {
		return fmt.Errorf("move %s to %s: it is at %q, not at %q", ref, commit, cur, wt.Head)
	}
	if err := writeLooseRef(gitDir, ref, commit); err != nil {
		return fmt.Errorf("move %s to %s: %w", ref, commit, err)
	}
	st := wt.state
	if st.RepoURL == "" {
		// A work tree of an earlier version keeps its settings in its
		// configuration; it gets no workTreeFile.
		return nil
	}
	st.Head, st.Tree = commit, tree
	return writeWorkTreeFile(gitDir, st)
}

// treeOf is the tree of commit in the mirror of e.
func (c *Cache) treeOf(ctx context.Context, e *entry, commit string) (string, error) {
	if tree := e.write.treeOf(commit); tree != "" {
		return tree, nil
	}
	out, err := c.output(ctx, e.dir, nil, "rev-parse", commit+"^{tree}")
	if err != nil {
		return "", fmt.Errorf("read tree of %s: %w", commit, err)
	}
	tree := strings.TrimSpace(string(out))
	e.write.rememberTree(commit, tree)
	return tree, nil
}

// ident is a commit's author or committer.
type ident struct {
	name, email string
	date        time.Time
}

func (i ident) env(role string) []string {
	name, email := i.name, i.email
	if name == "" {
		name = defaultAuthor
	}
	if email == "" {
		email = defaultEmail
	}
	return []string{"GIT_" + role + "_NAME=" + name, "GIT_" + role + "_EMAIL=" + email,
		"GIT_" + role + "_DATE=" + fmt.Sprintf("@%d +0000", i.date.Unix())}
}

// commitIn writes a commit object in the work tree at dir.
func (c *Cache) commitIn(ctx context.Context, dir, tree string, parents []string, message string, author, committer ident) (string, error) {
	args := []string{"commit-tree", tree}
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	args = append(args, "-F", "-")
	var stdout bytes.Buffer
	env := append(c.gitEnv(c.workTreeConfig()), "GIT_DIR="+filepath.Join(dir, ".git"))
	env = append(append(env, author.env("AUTHOR")...), committer.env("COMMITTER")...)
	stderr, err := c.run(ctx, gitRun{dir: dir, env: env, stdin: strings.NewReader(message), stdout: &stdout, args: args})
	if err != nil {
		return "", fmt.Errorf("write commit: %w: %s", err, strings.TrimSpace(stderr))
	}
	return strings.TrimSpace(stdout.String()), nil
}
