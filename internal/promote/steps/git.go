package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/promote/claim"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// The git steps (Kargo's git-clone, git-clear, git-commit and git-push)
// work on work trees that the shared Git cache makes from its mirrors
// (git.Cache.Checkout): each is a repository in PATH/.git that the steps
// alone may change (StepContext.Path refuses .git), so git never reads a
// configuration that a Stage's author wrote.

// gitAuthor is a commit's author in a configuration.
type gitAuthor struct {
	Name       string `json:"name,omitempty"`
	Email      string `json:"email,omitempty"`
	SigningKey string `json:"signingKey,omitempty"`
}

func (a *gitAuthor) check(field string) error {
	if a != nil && a.SigningKey != "" {
		return fmt.Errorf("%s.signingKey: kargo does not sign commits: %w", field, sourceerr.ErrInvalid)
	}
	return nil
}

func (a *gitAuthor) nameEmail() (string, string) {
	if a == nil {
		return "", ""
	}
	return a.Name, a.Email
}

// gitClone checks out branches, tags or commits of a repository into
// paths of the work directory.
type gitClone struct{ d Deps }

func (gitClone) Replayable() {}

type gitCloneConfig struct {
	RepoURL               string     `json:"repoURL"`
	InsecureSkipTLSVerify bool       `json:"insecureSkipTLSVerify,omitempty"`
	Author                *gitAuthor `json:"author,omitempty"`
	// Blobless is accepted for Kargo's manifests: the shared mirrors are
	// always blob-less, and a checkout fetches the contents of its own
	// files only.
	Blobless          bool          `json:"blobless,omitempty"`
	RecurseSubmodules bool          `json:"recurseSubmodules,omitempty"`
	Checkout          []gitCheckout `json:"checkout"`
}

type gitCheckout struct {
	As     string   `json:"as,omitempty"`
	Branch string   `json:"branch,omitempty"`
	Create bool     `json:"create,omitempty"`
	Commit string   `json:"commit,omitempty"`
	Tag    string   `json:"tag,omitempty"`
	Path   string   `json:"path"`
	Sparse []string `json:"sparse,omitempty"`
}

func (s gitClone) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	if s.d.Git == nil {
		return engine.Result{}, errNoGit("git-clone")
	}
	var c gitCloneConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	switch {
	case c.RepoURL == "":
		return engine.Result{}, fmt.Errorf("repoURL is required: %w", sourceerr.ErrInvalid)
	case len(c.Checkout) == 0:
		return engine.Result{}, fmt.Errorf("checkout needs at least one entry: %w", sourceerr.ErrInvalid)
	case c.RecurseSubmodules:
		return engine.Result{}, fmt.Errorf("recurseSubmodules: kargo does not check out submodules, whose repositories its credential and address rules would not cover: %w", sourceerr.ErrInvalid)
	}
	if err := c.Author.check("author"); err != nil {
		return engine.Result{}, err
	}
	// The project owns the work trees: one project's are never reused for
	// another's Promotions.
	req := git.CheckoutRequest{RepoURL: c.RepoURL, InsecureSkipTLSVerify: c.InsecureSkipTLSVerify, Owner: sc.Project}
	req.AuthorName, req.AuthorEmail = c.Author.nameEmail()
	keys := make([]string, len(c.Checkout))
	seen := map[string]bool{}
	for i, co := range c.Checkout {
		dir, err := sc.Path(co.Path)
		if err != nil {
			return engine.Result{}, fmt.Errorf("checkout[%d].path: %w", i, err)
		}
		if dir == workDir(sc) {
			return engine.Result{}, fmt.Errorf("checkout[%d].path is the whole work directory; check out into a directory inside it, such as ./out: %w", i, sourceerr.ErrInvalid)
		}
		if seen[dir] {
			return engine.Result{}, fmt.Errorf("checkout[%d].path %s is checked out twice: %w", i, co.Path, sourceerr.ErrInvalid)
		}
		seen[dir] = true
		keys[i] = co.As
		if keys[i] == "" {
			keys[i] = co.Path
		}
		if co.Create && co.Branch == "" {
			return engine.Result{}, fmt.Errorf("checkout[%d].create needs a branch: %w", i, sourceerr.ErrInvalid)
		}
		req.Checkouts = append(req.Checkouts, git.Checkout{Dir: dir, Branch: co.Branch, Tag: co.Tag, Commit: co.Commit, Create: co.Create, Sparse: co.Sparse})
	}
	creds, err := s.d.creds(ctx, sc, c.RepoURL)
	if err != nil {
		return engine.Result{}, err
	}
	req.Creds = creds
	trees, err := s.d.Git.Checkout(ctx, req)
	if err != nil {
		return engine.Result{}, invalidIfRequest(err)
	}
	commits := map[string]any{}
	var lines []string
	for i, wt := range trees {
		commits[keys[i]] = wt.Head
		what := short(wt.Head)
		if wt.Head == "" {
			what = "new branch " + wt.Branch
		} else if wt.Branch != "" {
			what = wt.Branch + " @ " + what
		}
		lines = append(lines, c.Checkout[i].Path+": "+what)
	}
	return engine.Result{
		Message: fmt.Sprintf("checked out %s (%s)", git.Redact(c.RepoURL), strings.Join(lines, ", ")),
		Output:  map[string]any{"commits": commits},
	}, nil
}

// Release takes back the work trees that git-clone made in a Promotion's
// work directory, for the next Promotions of the same project and
// repository.
func (s gitClone) Release(workDir string) {
	if s.d.Git != nil {
		s.d.Git.ReleaseWorkTrees(workDir)
	}
}

// gitClear deletes everything of a work tree but its repository, for
// content that is rendered anew.
type gitClear struct{}

func (gitClear) Replayable() {}

type gitClearConfig struct {
	Path string `json:"path"`
}

func (gitClear) Run(_ context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c gitClearConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	dir, err := sc.Path(c.Path)
	if err != nil {
		return engine.Result{}, err
	}
	if fi, err := os.Lstat(filepath.Join(dir, ".git")); err != nil || !fi.IsDir() {
		return engine.Result{}, fmt.Errorf("path %s is not a work tree of git-clone: %w", c.Path, sourceerr.ErrInvalid)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return engine.Result{}, fmt.Errorf("read %s: %w", c.Path, err)
	}
	for _, e := range entries {
		if e.Name() == ".git" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return engine.Result{}, fmt.Errorf("clear %s: %w", c.Path, err)
		}
	}
	return engine.Result{Message: "cleared " + c.Path}, nil
}

// gitCommit commits everything in a work tree, with the trailers that
// name the Freight, the Stage and the Promotion.
type gitCommit struct{ d Deps }

func (gitCommit) Replayable() {}

type gitCommitConfig struct {
	Path             string     `json:"path"`
	Message          string     `json:"message,omitempty"`
	MessageFromSteps []string   `json:"messageFromSteps,omitempty"`
	Author           *gitAuthor `json:"author,omitempty"`
}

func (s gitCommit) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	if s.d.Git == nil {
		return engine.Result{}, errNoGit("git-commit")
	}
	var c gitCommitConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	if err := c.Author.check("author"); err != nil {
		return engine.Result{}, err
	}
	if c.Message != "" && len(c.MessageFromSteps) > 0 {
		return engine.Result{}, fmt.Errorf("message and messageFromSteps exclude each other: %w", sourceerr.ErrInvalid)
	}
	dir, err := sc.Path(c.Path)
	if err != nil {
		return engine.Result{}, err
	}
	msg, err := commitMessage(sc, c)
	if err != nil {
		return engine.Result{}, err
	}
	req := git.WorkTreeCommitRequest{Dir: dir, Message: msg}
	req.AuthorName, req.AuthorEmail = c.Author.nameEmail()
	if p := sc.Promotion; p != nil {
		req.Trailers = claim.Trailers(sc.Project, sc.Stage, firstFreight(sc), p.UID)
		// A restarted controller that rebuilds the work directory makes
		// the same commit again, not one that differs in its date.
		req.Date = p.CreationTimestamp.Time
	}
	commit, changed, err := s.d.Git.CommitWorkTree(ctx, req)
	if err != nil {
		return engine.Result{}, invalidIfRequest(err)
	}
	m := "committed " + short(commit) + " in " + c.Path
	if !changed {
		m = "nothing to commit in " + c.Path
	}
	return engine.Result{Message: m, Output: map[string]any{"commit": commit}}, nil
}

// commitMessage is the message of git-commit: message, the commitMessage
// outputs of messageFromSteps, or one naming the Freight and the Stage.
func commitMessage(sc *engine.StepContext, c gitCommitConfig) (string, error) {
	if c.Message != "" {
		return c.Message, nil
	}
	subject := "Promote to " + sc.Stage
	if f := firstFreight(sc); f != nil {
		name := f.Alias
		if name == "" {
			name = f.Name
		}
		subject = "Promote " + name + " to " + sc.Stage
	}
	var parts []string
	for _, alias := range c.MessageFromSteps {
		out, _ := sc.Outputs[alias].(map[string]any)
		m, _ := out["commitMessage"].(string)
		if m == "" {
			return "", fmt.Errorf("messageFromSteps: step %q has no commitMessage output: %w", alias, sourceerr.ErrInvalid)
		}
		parts = append(parts, m)
	}
	switch len(parts) {
	case 0:
		return subject, nil
	case 1:
		return parts[0], nil
	}
	var b strings.Builder
	b.WriteString(subject + "\n")
	for _, p := range parts {
		b.WriteString("\n- " + strings.ReplaceAll(strings.TrimSpace(p), "\n", "\n  "))
	}
	return b.String(), nil
}

// gitPush pushes a work tree's commits. It acts outside the work
// directory, so it is never replayed; a push that a crash kept from being
// recorded is found on the branch by its Kargo-Promotion trailer.
type gitPush struct{ d Deps }

type gitPushConfig struct {
	Path                 string `json:"path"`
	TargetBranch         string `json:"targetBranch,omitempty"`
	GenerateTargetBranch bool   `json:"generateTargetBranch,omitempty"`
	MaxAttempts          *int32 `json:"maxAttempts,omitempty"`
	Tag                  string `json:"tag,omitempty"`
	Force                bool   `json:"force,omitempty"`
	Provider             string `json:"provider,omitempty"`
}

// defaultPushAttempts is Kargo's default of maxAttempts.
const defaultPushAttempts = 50

func (s gitPush) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	switch {
	case s.d.Git == nil:
		return engine.Result{}, errNoGit("git-push")
	case s.d.Client == nil:
		return engine.Result{}, fmt.Errorf("this controller was started without a Kubernetes client, so git-push cannot check which Stage writes a branch: %w", sourceerr.ErrInvalid)
	}
	var c gitPushConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	switch {
	case sc.Promotion == nil:
		return engine.Result{}, fmt.Errorf("git-push runs only in a Promotion: %w", sourceerr.ErrInvalid)
	case c.Tag != "":
		return engine.Result{}, fmt.Errorf("tag: kargo pushes branches only: %w", sourceerr.ErrInvalid)
	case c.GenerateTargetBranch && c.TargetBranch != "":
		return engine.Result{}, fmt.Errorf("targetBranch and generateTargetBranch exclude each other: %w", sourceerr.ErrInvalid)
	}
	dir, err := sc.Path(c.Path)
	if err != nil {
		return engine.Result{}, err
	}
	wt, err := s.d.Git.OpenWorkTree(ctx, dir)
	if err != nil {
		return engine.Result{}, invalidIfRequest(err)
	}
	branch := strings.TrimPrefix(c.TargetBranch, "refs/heads/")
	if c.GenerateTargetBranch {
		branch = "kargo/promotion/" + sc.Promotion.Name
	}
	if branch == "" {
		branch = wt.Branch
	}
	st := &kargoapi.Stage{}
	if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: sc.Project, Name: sc.Stage}, st); err != nil {
		return engine.Result{}, fmt.Errorf("get Stage %s: %w", sc.Stage, err)
	}
	watched, err := claim.Watched(ctx, s.d.Client, st)
	if err != nil {
		return engine.Result{}, err
	}
	if branch != "" && watched[claim.BranchKey(wt.RepoURL, branch)] {
		return engine.Result{}, claim.LoopError(st, "git-push", git.Redact(wt.RepoURL), branch)
	}
	creds, err := s.d.creds(ctx, sc, wt.RepoURL)
	if err != nil {
		return engine.Result{}, err
	}
	attempts := defaultPushAttempts
	if c.MaxAttempts != nil && *c.MaxAttempts > 0 {
		attempts = int(*c.MaxAttempts)
	}
	res, err := s.d.Git.PushWorkTree(ctx, git.PushRequest{
		Dir:                dir,
		Creds:              creds,
		Branch:             branch,
		Force:              c.Force,
		IdempotencyTrailer: [2]string{claim.TrailerPromotion, string(sc.Promotion.UID)},
		MaxAttempts:        attempts,
		Check: func(ctx context.Context, recent []git.TrailedCommit) error {
			last := ""
			for _, rc := range recent {
				if w := rc.Trailers[claim.TrailerStage]; w != "" {
					last = w
					break
				}
			}
			return claim.Check(ctx, s.d.Client, st, claim.Branch{RepoURL: git.Redact(wt.RepoURL), Branch: branch, LastWriter: last})
		},
	})
	if err != nil {
		return engine.Result{}, invalidIfRequest(err)
	}
	out := map[string]any{"branch": res.Branch, "commit": res.Commit}
	if u := commitURL(wt.RepoURL, c.Provider, res.Commit); u != "" {
		out["commitURL"] = u
	}
	where := res.Branch + " of " + git.Redact(wt.RepoURL)
	m := fmt.Sprintf("pushed %s to %s", short(res.Commit), where)
	switch {
	case res.AlreadyDone:
		m = fmt.Sprintf("%s holds %s, pushed for this Promotion before a restart", where, short(res.Commit))
	case !res.Pushed:
		m = fmt.Sprintf("%s already holds %s", where, short(res.Commit))
	case res.Rebased:
		m += " (replayed onto the branch, which moved since git-clone)"
	}
	return engine.Result{Message: m, Output: out}, nil
}

// commitURL is the address of commit on the repository's host, for the
// hosts whose layout is known (provider names one, or the host is one of
// the public ones), else "".
func commitURL(repo, provider, commit string) string {
	if commit == "" {
		return ""
	}
	r, err := repourl.ParseGit(repo)
	if err != nil || r.Host == "" || r.Path == "" {
		return ""
	}
	host := strings.TrimSuffix(strings.ToLower(r.Host), ".")
	if provider == "" {
		switch {
		case host == "github.com":
			provider = "github"
		case host == "gitlab.com":
			provider = "gitlab"
		case host == "bitbucket.org":
			provider = "bitbucket"
		case host == "dev.azure.com" || strings.HasSuffix(host, ".visualstudio.com"):
			provider = "azure"
		}
	}
	// The web address: the repository's own for http(s), the host's
	// https address for ssh.
	web := "https://" + r.Host
	if r.Scheme == "https" || r.Scheme == "http" {
		web = r.Scheme + "://" + r.Host
		if r.Port != "" {
			web += ":" + r.Port
		}
	}
	web += "/" + r.Path
	switch provider {
	case "github", "gitea", "azure":
		return web + "/commit/" + commit
	case "gitlab":
		return web + "/-/commit/" + commit
	case "bitbucket":
		return web + "/commits/" + commit
	}
	return ""
}

func (d Deps) creds(ctx context.Context, sc *engine.StepContext, repo string) (*credentials.Credentials, error) {
	if d.Credentials == nil {
		return nil, nil
	}
	c, err := d.Credentials.Get(ctx, sc.Project, credentials.TypeGit, repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", git.Redact(repo), err)
	}
	return c, nil
}

func errNoGit(step string) error {
	return fmt.Errorf("this controller was started without a Git cache, so %s cannot run: %w", step, sourceerr.ErrInvalid)
}

// invalidIfRequest marks the git package's refusals of a request as errors
// that the configuration must fix.
func invalidIfRequest(err error) error {
	if errors.Is(err, git.ErrInvalidRequest) && !errors.Is(err, sourceerr.ErrInvalid) {
		return fmt.Errorf("%w: %w", err, sourceerr.ErrInvalid)
	}
	return err
}

func firstFreight(sc *engine.StepContext) *kargoapi.Freight {
	if len(sc.Freight) == 0 {
		return nil
	}
	return sc.Freight[0]
}

func workDir(sc *engine.StepContext) string {
	if d, err := filepath.EvalSymlinks(sc.WorkDir); err == nil {
		return d
	}
	return sc.WorkDir
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
