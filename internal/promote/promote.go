// Package promote applies a Stage's Git promotion mechanisms
// (gitRepoUpdates): it edits kustomization files, Helm values files and
// Chart.yaml files in a checkout of the GitOps repository and pushes one
// commit per repository, reusing the controller's shared Git cache.
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

// Promoter applies gitRepoUpdates.
type Promoter struct {
	Git         Committer
	Credentials credentials.Store
	// Client reads the Warehouse a Stage subscribes to, to refuse writing
	// to a branch that Warehouse watches, and lists Stages (of every
	// project), to refuse writing a branch another Stage wrote first.
	Client client.Reader
	// ArgoCD applies argoCDAppUpdates, after every Git update.
	ArgoCD *argocd.Updater
}

// Promote applies every gitRepoUpdate of st for f, in order, with one commit
// per update. A commit already made for this Promotion (found by its
// Kargo-Promotion trailer) is not made again. Errors that the spec or the
// repository's content must fix wrap sourceerr.ErrInvalid.
//
// For a Stage that holds Freight of several origins, the updates read the
// artifacts of f and of what the Stage holds of its other origins (see
// View), so the Freight of the other origins stays as it is; edits that
// need Freight of an origin the Stage does not hold yet are left out (see
// Trim), each with a line in the outcome.
func (p *Promoter) Promote(ctx context.Context, st *kargoapi.Stage, f *kargoapi.Freight, promo *kargoapi.Promotion) (Outcome, error) {
	var out Outcome
	if st.Spec.PromotionMechanisms == nil {
		return out, nil
	}
	if err := p.originCarries(ctx, st, f); err != nil {
		return out, err
	}
	// v is what the updates read; f alone names the commits.
	v, missing := View(st, f)
	pm, left := Trim(st.Spec.PromotionMechanisms, v, missing)
	out.Summary = append(out.Summary, left...)
	watched, err := p.watchedBranches(ctx, st)
	if err != nil {
		return out, err
	}
	if err := p.claimedElsewhere(ctx, st); err != nil {
		return out, err
	}
	// Argo CD updates are checked before anything is committed: an
	// Application that does not let the Stage change it, or one in the
	// middle of a sync, stops the promotion with nothing written.
	if len(pm.ArgoCDAppUpdates) > 0 {
		if p.ArgoCD == nil {
			return out, fmt.Errorf("this controller was started without Argo CD support, so argoCDAppUpdates cannot be applied: %w", sourceerr.ErrInvalid)
		}
		pushing := make([]string, len(pm.GitRepoUpdates))
		for i, u := range pm.GitRepoUpdates {
			pushing[i] = string(u.RepoURL)
		}
		if err := p.ArgoCD.Check(ctx, st, v, pm.ArgoCDAppUpdates, pushing); err != nil {
			return out, fmt.Errorf("argoCDAppUpdates: %w", err)
		}
	}
	// The commit each Git update leaves its write branch at: Argo CD
	// sources of the same repository are pointed at it.
	heads := map[string]string{}
	for i, u := range pm.GitRepoUpdates {
		repo, write := string(u.RepoURL), string(u.WriteBranch)
		if watched[claim.BranchKey(repo, write)] {
			return out, claim.LoopError(st, fmt.Sprintf("gitRepoUpdates[%d]", i), repo, write)
		}
		creds, err := p.creds(ctx, st.Namespace, repo)
		if err != nil {
			return out, err
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
			return out, fmt.Errorf("gitRepoUpdates[%d] (%s, branch %s): %w", i, repo, write, err)
		}
		heads[repo] = res.Commit
		short := res.Commit
		if len(short) > 7 {
			short = short[:7]
		}
		switch {
		case res.AlreadyDone:
			out.Summary = append(out.Summary, fmt.Sprintf("%s %s @ %s (committed before a restart)", repo, write, short))
		case res.Changed:
			out.Summary = append(out.Summary, fmt.Sprintf("committed %s to %s %s", short, repo, write))
		default:
			out.Summary = append(out.Summary, fmt.Sprintf("%s %s already up to date @ %s", repo, write, short))
		}
	}
	if len(pm.ArgoCDAppUpdates) > 0 {
		lines, err := p.ArgoCD.Apply(ctx, st, v, pm.ArgoCDAppUpdates, heads)
		if err != nil {
			return out, fmt.Errorf("argoCDAppUpdates: %w", err)
		}
		out.Summary = append(out.Summary, lines...)
	}
	return out, nil
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
