// Package promote applies a Stage's promotion mechanisms: it edits
// kustomization files, Helm values files and Chart.yaml files in a checkout
// of the GitOps repository and pushes one commit per gitRepoUpdate, reusing
// the controller's shared Git cache, then updates the argoCDAppUpdates'
// Applications. The mechanisms run as steps of the promotion step engine
// (Process names them; internal/promote/steps runs them through the
// Promoter's Check, UpdateRepo and UpdateApps).
package promote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/argocd"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/promote/claim"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/yamledit"
)

// Trailers kargo writes on promotion commits (package claim names them
// for every path that commits).
const (
	TrailerFreight      = claim.TrailerFreight
	TrailerFreightAlias = claim.TrailerFreightAlias
	TrailerStage        = claim.TrailerStage
	TrailerPromotion    = claim.TrailerPromotion
)

// Committer commits and pushes edits to a repository, and reads back the
// commits of a branch.
type Committer interface {
	Commit(ctx context.Context, req git.CommitRequest) (git.CommitResult, error)
	RecentCommits(ctx context.Context, req git.BranchRequest) ([]git.TrailedCommit, error)
}

// Promoter applies a Stage's promotion mechanisms, one part per step.
type Promoter struct {
	Git         Committer
	Credentials credentials.Store
	// Client reads the Warehouse a Stage subscribes to, to refuse writing
	// to a branch that Warehouse watches, and lists Stages (of every
	// project), to refuse writing a branch another Stage wrote first.
	Client client.Reader
	// ArgoCD checks argoCDAppUpdates before the Git updates and applies
	// them after.
	ArgoCD *argocd.Updater
}

// Check makes, for the promotion of f into st, every check that comes
// before anything is written (the first of the derived steps, see Process):
// that f carries only what its origin provides, that no write branch is one
// the Stage's Freight comes from or one another Stage writes, and that every
// Argo CD Application of argoCDAppUpdates lets the Stage change it and is
// not in the middle of a sync (the error then wraps argocd.ErrSyncRunning).
// It returns a line for each edit left as it is because the Stage holds no
// Freight yet of an origin it needs (see Trim). Errors that the spec or the
// repository's content must fix wrap sourceerr.ErrInvalid.
func (p *Promoter) Check(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight) ([]string, error) {
	if st.Spec.PromotionMechanisms == nil {
		return nil, nil
	}
	if err := p.originCarries(ctx, st, f); err != nil {
		return nil, err
	}
	v, pm, left := p.view(st, f)
	watched, err := p.watchedBranches(ctx, st)
	if err != nil {
		return nil, err
	}
	for i, u := range pm.GitRepoUpdates {
		if repo, write := string(u.RepoURL), string(u.WriteBranch); watched[claim.BranchKey(repo, write)] {
			return nil, claim.LoopError(st, fmt.Sprintf("gitRepoUpdates[%d]", i), repo, write)
		}
	}
	if err := p.claimedElsewhere(ctx, st); err != nil {
		return nil, err
	}
	if len(pm.ArgoCDAppUpdates) > 0 {
		if p.ArgoCD == nil {
			return nil, errNoArgoCD()
		}
		pushing := make([]string, len(pm.GitRepoUpdates))
		for i, u := range pm.GitRepoUpdates {
			pushing[i] = string(u.RepoURL)
		}
		if err := p.ArgoCD.Check(ctx, st, v, pm.ArgoCDAppUpdates, pushing); err != nil {
			return nil, fmt.Errorf("argoCDAppUpdates: %w", err)
		}
	}
	return left, nil
}

// UpdateRepo applies gitRepoUpdates[i] of st for f with one commit to its
// write branch, and returns a line saying what it did and the commit the
// branch is at. A commit already made for this Promotion (found by its
// Kargo-Promotion trailer) is not made again. For a Stage that holds Freight
// of several origins, the update reads the artifacts of f and of what the
// Stage holds of its other origins (see View); edits that need Freight of
// an origin the Stage does not hold yet are left out (see Trim).
func (p *Promoter) UpdateRepo(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight, promo *kargoapi.Promotion, i int) (line, head string, err error) {
	if st.Spec.PromotionMechanisms == nil || i < 0 || i >= len(st.Spec.PromotionMechanisms.GitRepoUpdates) {
		return "", "", fmt.Errorf("Stage %s has no gitRepoUpdates[%d]: %w", st.Name, i, sourceerr.ErrInvalid)
	}
	v, pm, _ := p.view(st, f)
	u := pm.GitRepoUpdates[i]
	repo, write := string(u.RepoURL), string(u.WriteBranch)
	watched, err := p.watchedBranches(ctx, st)
	if err != nil {
		return "", "", err
	}
	if watched[claim.BranchKey(repo, write)] {
		return "", "", claim.LoopError(st, fmt.Sprintf("gitRepoUpdates[%d]", i), repo, write)
	}
	creds, err := p.creds(ctx, st.Namespace, repo)
	if err != nil {
		return "", "", err
	}
	res, err := p.Git.Commit(ctx, git.CommitRequest{
		RepoURL:               repo,
		Creds:                 creds,
		InsecureSkipTLSVerify: u.InsecureSkipTLSVerify,
		ReadRef:               readRef(u, v),
		WriteBranch:           write,
		Apply:                 func(ctx context.Context, dir string) ([]string, error) { return Apply(dir, u, v) },
		Subject:               fmt.Sprintf("Promote %s to %s", nameOf(f), st.Name),
		Trailers:              trailers(st, f, promo),
		IdempotencyTrailer:    [2]string{TrailerPromotion, string(promo.UID)},
	})
	if err != nil {
		return "", "", fmt.Errorf("gitRepoUpdates[%d] (%s, branch %s): %w", i, repo, write, err)
	}
	short := res.Commit
	if len(short) > 7 {
		short = short[:7]
	}
	switch {
	case res.AlreadyDone:
		line = fmt.Sprintf("%s %s @ %s (committed before a restart)", repo, write, short)
	case res.Changed:
		line = fmt.Sprintf("committed %s to %s %s", short, repo, write)
	default:
		line = fmt.Sprintf("%s %s already up to date @ %s", repo, write, short)
	}
	return line, res.Commit, nil
}

// UpdateApps applies st's argoCDAppUpdates for f, after its Git updates:
// heads maps each repository a Git update wrote to the commit it left its
// write branch at, which Argo CD sources of that repository are pointed
// at. It returns one line per Application changed; an Application in the
// middle of a sync makes the error wrap argocd.ErrSyncRunning, with nothing
// written.
func (p *Promoter) UpdateApps(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight, heads map[string]string) ([]string, error) {
	if st.Spec.PromotionMechanisms == nil || len(st.Spec.PromotionMechanisms.ArgoCDAppUpdates) == 0 {
		return nil, nil
	}
	if p.ArgoCD == nil {
		return nil, errNoArgoCD()
	}
	v, pm, _ := p.view(st, f)
	lines, err := p.ArgoCD.Apply(ctx, st, v, pm.ArgoCDAppUpdates, heads)
	if err != nil {
		return lines, fmt.Errorf("argoCDAppUpdates: %w", err)
	}
	return lines, nil
}

// view is what st's promotion mechanisms read when f is promoted (View),
// the mechanisms without the edits that need an origin st holds nothing of
// yet, and a line for each edit left out (Trim).
func (p *Promoter) view(st *kargoapi.Stage, f *kargoapi.Freight) (*kargoapi.Freight, *kargoapi.PromotionMechanisms, []string) {
	v, missing := View(st, f)
	pm, left := Trim(st.Spec.PromotionMechanisms, v, missing)
	return v, pm, left
}

func errNoArgoCD() error {
	return fmt.Errorf("this controller was started without Argo CD support, so argoCDAppUpdates cannot be applied: %w", sourceerr.ErrInvalid)
}

// Landing reports what the write branches of st's gitRepoUpdates hold of
// the Promotion with uid: an update has landed when the newest commit made
// for st on its write branch (found by the Kargo-Stage trailer) is the
// Promotion's (its Kargo-Promotion trailer). A Stage whose Promotion was
// deleted while it ran learns from it what that Promotion did.
func (p *Promoter) Landing(ctx context.Context, st *kargoapi.Stage, uid types.UID) (Landing, error) {
	var l Landing
	if st.Spec.PromotionMechanisms == nil {
		return l, nil
	}
	stage := st.Namespace + "/" + st.Name
	for i, u := range st.Spec.PromotionMechanisms.GitRepoUpdates {
		repo, write := string(u.RepoURL), string(u.WriteBranch)
		creds, err := p.creds(ctx, st.Namespace, repo)
		if err != nil {
			return l, err
		}
		commits, err := p.Git.RecentCommits(ctx, git.BranchRequest{RepoURL: repo, Creds: creds, InsecureSkipTLSVerify: u.InsecureSkipTLSVerify, Branch: write})
		if err != nil {
			return l, fmt.Errorf("gitRepoUpdates[%d] (%s, branch %s): %w", i, repo, write, err)
		}
		where := repo + " " + write
		landed := false
		for _, c := range commits {
			if c.Trailers[TrailerStage] == stage {
				landed = c.Trailers[TrailerPromotion] == string(uid)
				if landed {
					short := c.ID
					if len(short) > 7 {
						short = short[:7]
					}
					where += " @ " + short
				}
				break
			}
		}
		if landed {
			l.Landed = append(l.Landed, where)
		} else {
			l.Missing = append(l.Missing, where)
		}
	}
	return l, nil
}

// trailers are the trailers of a promotion commit.
func trailers(st *kargoapi.Stage, f *kargoapi.Freight, promo *kargoapi.Promotion) [][2]string {
	return claim.Trailers(st.Namespace, st.Name, f, promo.UID)
}

// readRef is where an update's content comes from: readBranch; else the
// Freight's commit of that repository (the Stage subscribes to it); else the
// write branch itself.
func readRef(u kargoapi.GitRepoUpdate, f *kargoapi.Freight) string {
	if u.ReadBranch != "" {
		return string(u.ReadBranch)
	}
	for _, c := range f.Commits {
		if repourl.Same(c.RepoURL, string(u.RepoURL)) && c.ID != "" {
			return c.ID
		}
	}
	return ""
}

// watchedBranches returns the repository branches the Stage's Freight comes
// from (claim.Watched).
func (p *Promoter) watchedBranches(ctx context.Context, st *kargoapi.Stage) (map[string]bool, error) {
	return claim.Watched(ctx, p.Client, st)
}

// claimedElsewhere refuses to write a branch of st's gitRepoUpdates that
// another Stage, created before st, writes too (claim.Check).
func (p *Promoter) claimedElsewhere(ctx context.Context, st *kargoapi.Stage) error {
	branches := make([]claim.Branch, len(st.Spec.PromotionMechanisms.GitRepoUpdates))
	for i, u := range st.Spec.PromotionMechanisms.GitRepoUpdates {
		branches[i] = claim.Branch{RepoURL: string(u.RepoURL), Branch: string(u.WriteBranch)}
	}
	return claim.Check(ctx, p.Client, st, branches...)
}

func (p *Promoter) creds(ctx context.Context, ns, repo string) (*credentials.Credentials, error) {
	if p.Credentials == nil {
		return nil, nil
	}
	return p.Credentials.Get(ctx, ns, credentials.TypeGit, repo)
}

func nameOf(f *kargoapi.Freight) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}

// Apply makes one gitRepoUpdate's edits for f in the checkout at dir and
// returns one line per change. It only reads the files, so it can run again
// on fresh content after a rejected push.
func Apply(dir string, u kargoapi.GitRepoUpdate, f *kargoapi.Freight) ([]string, error) {
	var changes []string
	if k := u.Kustomize; k != nil {
		for _, img := range k.Images {
			line, err := setKustomizeImage(dir, img, f)
			if err != nil {
				return nil, err
			}
			changes = append(changes, line...)
		}
	}
	if h := u.Helm; h != nil {
		for _, img := range h.Images {
			line, err := setHelmImage(dir, img, f)
			if err != nil {
				return nil, err
			}
			changes = append(changes, line...)
		}
		for _, c := range h.Charts {
			line, err := setChartDependency(dir, c, f)
			if err != nil {
				return nil, err
			}
			changes = append(changes, line...)
		}
	}
	return changes, nil
}

func imageOf(f *kargoapi.Freight, repo string) (kargoapi.Image, error) {
	for _, i := range f.Images {
		if i.RepoURL == repo {
			return i, nil
		}
	}
	// Another spelling of one image (docker.io/library/nginx for nginx)
	// when no image is spelled as the update spells it.
	for _, i := range f.Images {
		if repourl.Same(i.RepoURL, repo) {
			return i, nil
		}
	}
	var have []string
	for _, i := range f.Images {
		have = append(have, i.RepoURL)
	}
	return kargoapi.Image{}, fmt.Errorf("Freight %s has no image %s (it has: %s); name an image the Freight carries: %w",
		nameOf(f), repo, strings.Join(have, ", "), sourceerr.ErrInvalid)
}

func setKustomizeImage(dir string, u kargoapi.KustomizeImageUpdate, f *kargoapi.Freight) ([]string, error) {
	img, err := imageOf(f, string(u.Image))
	if err != nil {
		return nil, err
	}
	want := yamledit.KustomizeImage{Name: img.RepoURL, NewTag: img.Tag}
	shown := img.RepoURL + ":" + img.Tag
	if u.UseDigest {
		if img.Digest == "" {
			return nil, fmt.Errorf("useDigest is set for %s, but Freight %s records no digest for it: %w", img.RepoURL, nameOf(f), sourceerr.ErrInvalid)
		}
		want = yamledit.KustomizeImage{Name: img.RepoURL, Digest: img.Digest}
		shown = img.RepoURL + "@" + img.Digest
	}
	file, rel, err := kustomizationIn(dir, string(u.Path))
	if err != nil {
		return nil, err
	}
	return editFile(file, rel, "set image "+shown, func(b []byte) ([]byte, error) {
		return yamledit.SetKustomizeImage(b, want)
	})
}

// kustomizationIn finds the kustomization file of a directory, as kustomize
// does.
func kustomizationIn(dir, rel string) (string, string, error) {
	d, err := git.ResolveInRepo(dir, rel)
	if err != nil {
		return "", "", fmt.Errorf("kustomize path %s: %w: %w", rel, err, sourceerr.ErrInvalid)
	}
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		file, err := git.ResolveInRepo(dir, path.Join(rel, name))
		if err != nil {
			return "", "", fmt.Errorf("kustomize path %s: %w: %w", rel, err, sourceerr.ErrInvalid)
		}
		if _, err := os.Stat(file); err == nil {
			return file, path.Join(rel, name), nil
		}
	}
	return "", "", fmt.Errorf("no kustomization.yaml in %s (looked in %s): %w", rel, d, sourceerr.ErrInvalid)
}

func setHelmImage(dir string, u kargoapi.HelmImageUpdate, f *kargoapi.Freight) ([]string, error) {
	img, err := imageOf(f, string(u.Image))
	if err != nil {
		return nil, err
	}
	var value string
	switch u.Value {
	case kargoapi.ImageUpdateValueImage:
		value = img.RepoURL
	case kargoapi.ImageUpdateValueTag:
		value = img.Tag
	case kargoapi.ImageUpdateValueImageAndTag:
		value = img.RepoURL + ":" + img.Tag
	case kargoapi.ImageUpdateValueDigest, kargoapi.ImageUpdateValueImageAndDigest:
		if img.Digest == "" {
			return nil, fmt.Errorf("value %s for %s needs a digest, but Freight %s records none: %w", u.Value, img.RepoURL, nameOf(f), sourceerr.ErrInvalid)
		}
		value = img.Digest
		if u.Value == kargoapi.ImageUpdateValueImageAndDigest {
			value = img.RepoURL + "@" + img.Digest
		}
	default:
		return nil, fmt.Errorf("unknown value %q for %s: %w", u.Value, img.RepoURL, sourceerr.ErrInvalid)
	}
	rel := string(u.ValuesFilePath)
	file, err := git.ResolveInRepo(dir, rel)
	if err != nil {
		return nil, fmt.Errorf("valuesFilePath %s: %w: %w", rel, err, sourceerr.ErrInvalid)
	}
	return editFile(file, rel, fmt.Sprintf("set %s to %s", u.Key, value), func(b []byte) ([]byte, error) {
		return yamledit.SetValue(b, u.Key, value)
	})
}

func setChartDependency(dir string, u kargoapi.HelmChartDependencyUpdate, f *kargoapi.Freight) ([]string, error) {
	var version string
	for _, c := range f.Charts {
		if (repourl.Same(c.RepoURL, u.Repository) && c.Name == u.Name) || (c.Name == "" && repourl.Same(c.RepoURL, strings.TrimSuffix(u.Repository, "/")+"/"+u.Name)) {
			version = c.Version
			break
		}
	}
	if version == "" {
		return nil, fmt.Errorf("Freight %s has no chart %s from %s; name a chart the Freight carries: %w", nameOf(f), u.Name, u.Repository, sourceerr.ErrInvalid)
	}
	rel := path.Join(string(u.ChartPath), "Chart.yaml")
	file, err := git.ResolveInRepo(dir, rel)
	if err != nil {
		return nil, fmt.Errorf("chartPath %s: %w: %w", u.ChartPath, err, sourceerr.ErrInvalid)
	}
	oldChart, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	changes, err := editFile(file, rel, fmt.Sprintf("set dependency %s to %s", u.Name, version), func(b []byte) ([]byte, error) {
		return yamledit.SetChartDependencyVersion(b, u.Repository, u.Name, version)
	})
	if err != nil {
		return nil, err
	}
	lockChanges, err := syncChartLock(dir, string(u.ChartPath), oldChart, file, u, version)
	if err != nil {
		return nil, err
	}
	return append(changes, lockChanges...), nil
}

// syncChartLock keeps the chart's Chart.lock, if it has one, consistent with
// the dependency version just set in Chart.yaml (chartFile; oldChart is what
// it held before), so that `helm dependency build` accepts the promoted
// commit: the locked version and the lock's digest follow. A lock whose
// digest did not match Chart.yaml before either keeps it, and the change
// line says so.
func syncChartLock(dir, chartPath string, oldChart []byte, chartFile string, u kargoapi.HelmChartDependencyUpdate, version string) ([]string, error) {
	rel := path.Join(chartPath, "Chart.lock")
	file, err := git.ResolveInRepo(dir, rel)
	if err != nil {
		return nil, fmt.Errorf("chartPath %s: %w: %w", chartPath, err, sourceerr.ErrInvalid)
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	newChart, err := os.ReadFile(chartFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path.Join(chartPath, "Chart.yaml"), err)
	}
	what := fmt.Sprintf("lock dependency %s at %s", u.Name, version)
	var kept bool
	changes, err := editFile(file, rel, what, func(b []byte) ([]byte, error) {
		up, err := yamledit.UpdateChartLock(b, oldChart, newChart, u.Repository, u.Name, version)
		kept = up.DigestKept
		return up.Lock, err
	})
	if err != nil || len(changes) == 0 || !kept {
		return changes, err
	}
	return []string{changes[0] + " (its digest was kept: it did not match Chart.yaml before either, so run helm dependency update)"}, nil
}

// editFile rewrites file with edit and returns a change line, or nothing when
// the edit changed no byte. Missing files and refused edits are errors the
// spec or the repository must fix.
func editFile(file, rel, what string, edit func([]byte) ([]byte, error)) ([]string, error) {
	old, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist in the repository: %w", rel, sourceerr.ErrInvalid)
		}
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	updated, err := edit(old)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w: %w", what, rel, err, sourceerr.ErrInvalid)
	}
	if string(updated) == string(old) {
		return nil, nil
	}
	info, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	if err := os.WriteFile(file, updated, info.Mode().Perm()); err != nil {
		return nil, fmt.Errorf("write %s: %w", rel, err)
	}
	return []string{what + " in " + rel}, nil
}
