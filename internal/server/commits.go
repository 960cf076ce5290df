package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/promote/claim"
	"github.com/kargohq/kargo/internal/promote/engine"
)

// CommitReader reads the commits of a branch that carry a trailer, with
// their patches: a *git.Cache.
type CommitReader interface {
	TrailedDiffs(ctx context.Context, req git.DiffRequest) ([]git.CommitDiff, error)
}

// Bounds of the commits endpoint: branches looked at per Promotion, reads
// under way in the whole server, and the time one request may take.
const (
	maxCommitTargets  = 8
	maxCommitReads    = 4
	commitReadTimeout = time.Minute
)

// commitTarget is a branch of a repository a Promotion wrote.
type commitTarget struct {
	RepoURL  string
	Branch   string
	Insecure bool
}

// promotionCommits answers the commits Promotion {name} made. Who may get
// the Promotion may see them: its commits are what it did. The server, not
// the caller, decides where to look (promotionTargets: the branches the
// Promotion's own process, or its Stage's promotionMechanisms, write) and
// reads with the credentials of the Promotion's project only; of what it
// finds it shows only the commits that carry the Promotion's UID in their
// Kargo-Promotion trailer, so a Stage edited since to point elsewhere
// shows nothing of the repository it points at now.
func (s *Server) promotionCommits(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	if err := s.authz.check(ctx, u, kargoAccess("get", promotionKind.resource, project, name)); err != nil {
		return err
	}
	obj, err := s.read(ctx, promotionKind, project, name)
	if err != nil {
		return s.orMissingProject(ctx, project, err)
	}
	promo := obj.(*kargoapi.Promotion)
	if s.opts.Commits == nil {
		return newError(http.StatusNotImplemented, metav1.StatusReasonServiceUnavailable,
			"this kargo API server reads no Git repositories, so it cannot show the commits of Promotion %q (kargo local does)", name)
	}
	var st *kargoapi.Stage
	if o, err := s.read(ctx, stageKind, project, promo.Spec.Stage); err == nil {
		st = o.(*kargoapi.Stage)
	}
	targets, notes := promotionTargets(promo, st)
	out := apitypes.PromotionCommits{Commits: []apitypes.PromotionCommit{}, Notes: notes}
	if len(targets) == 0 || promo.UID == "" {
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	select {
	case s.commitReads <- struct{}{}:
		defer func() { <-s.commitReads }()
	case <-ctx.Done():
		return ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, commitReadTimeout)
	defer cancel()
	for _, t := range targets {
		where := fmt.Sprintf("%s branch %s", git.Redact(t.RepoURL), t.Branch)
		var creds *credentials.Credentials
		if s.opts.Credentials != nil {
			var err error
			if creds, err = s.opts.Credentials.Get(ctx, project, credentials.TypeGit, t.RepoURL); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "read credentials", "project", project, "repoURL", git.Redact(t.RepoURL))
				out.Notes = append(out.Notes, fmt.Sprintf("%s: the project's credentials could not be read", where))
				continue
			}
		}
		diffs, err := s.opts.Commits.TrailedDiffs(ctx, git.DiffRequest{
			BranchRequest: git.BranchRequest{RepoURL: t.RepoURL, Creds: creds, InsecureSkipTLSVerify: t.Insecure, Branch: t.Branch},
			Trailer:       [2]string{claim.TrailerPromotion, string(promo.UID)},
		})
		if err != nil {
			note := fmt.Sprintf("%s: %s", where, git.Redact(err.Error()))
			if s.opts.Credentials == nil {
				note += " (this API server reads repositories without the projects' credentials, so it shows the commits of public ones only: an install with the chart's api.git.readCredentials=true lets it read them)"
			}
			out.Notes = append(out.Notes, note)
			continue
		}
		for _, d := range diffs {
			c := apitypes.PromotionCommit{
				RepoURL: git.Redact(t.RepoURL), Branch: t.Branch, ID: d.ID, Parent: d.Parent,
				Subject: d.Subject, Author: d.Author, Time: d.Time, MoreFiles: d.MoreFiles,
				Files: make([]apitypes.FileDiff, 0, len(d.Files)),
			}
			for _, f := range d.Files {
				c.Files = append(c.Files, apitypes.FileDiff{Path: f.Path, Status: f.Status, Patch: f.Patch, Binary: f.Binary, Truncated: f.Truncated})
			}
			out.Commits = append(out.Commits, c)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// varReference is a configuration value that is one variable of the
// process: ${{ vars.NAME }}.
var varReference = regexp.MustCompile(`^\$\{\{\s*vars\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$`)

// promotionTargets are the branches promo wrote, from what the Promotion
// itself records: for a process of steps, the branch of each git-push that
// ran (its output) in each repository a git-clone checked out; for a
// Promotion without steps, the write branches of its Stage's
// gitRepoUpdates. A repository named by an expression other than one
// variable of the process is not evaluated here; a note says so.
func promotionTargets(promo *kargoapi.Promotion, st *kargoapi.Stage) ([]commitTarget, []string) {
	var targets []commitTarget
	var notes []string
	seen := map[commitTarget]bool{}
	add := func(t commitTarget) {
		if t.RepoURL == "" || t.Branch == "" || seen[t] || len(targets) == maxCommitTargets {
			return
		}
		seen[t] = true
		targets = append(targets, t)
	}
	if len(promo.Spec.Steps) == 0 {
		if st != nil && st.Spec.PromotionMechanisms != nil {
			for _, u := range st.Spec.PromotionMechanisms.GitRepoUpdates {
				add(commitTarget{RepoURL: string(u.RepoURL), Branch: strings.TrimPrefix(string(u.WriteBranch), "refs/heads/"), Insecure: u.InsecureSkipTLSVerify})
			}
		}
		return targets, notes
	}
	vars := map[string]string{}
	for _, v := range promo.Spec.Vars {
		if !engine.HasExpression(v.Value) {
			vars[v.Name] = v.Value
		}
	}
	type clone struct {
		repo     string
		insecure bool
	}
	var clones []clone
	var branches []string
	var state map[string]json.RawMessage
	if promo.Status.State != nil && len(promo.Status.State.Raw) > 0 {
		_ = json.Unmarshal(promo.Status.State.Raw, &state)
	}
	for i, step := range promo.Spec.Steps {
		switch step.Uses {
		case "git-clone":
			var c struct {
				RepoURL               string `json:"repoURL"`
				InsecureSkipTLSVerify bool   `json:"insecureSkipTLSVerify"`
			}
			if step.Config != nil {
				_ = json.Unmarshal(step.Config.Raw, &c)
			}
			repo := c.RepoURL
			if m := varReference.FindStringSubmatch(repo); m != nil {
				repo = vars[m[1]]
			}
			if repo == "" || engine.HasExpression(repo) {
				notes = append(notes, fmt.Sprintf("step %s: its repository is an expression this view does not evaluate", engine.Alias(step, i)))
				continue
			}
			clones = append(clones, clone{repo: repo, insecure: c.InsecureSkipTLSVerify})
		case "git-push":
			var o struct {
				Branch string `json:"branch"`
			}
			if raw, ok := state[engine.Alias(step, i)]; ok && json.Unmarshal(raw, &o) == nil && o.Branch != "" {
				branches = append(branches, o.Branch)
			}
		}
	}
	for _, c := range clones {
		for _, b := range branches {
			add(commitTarget{RepoURL: c.repo, Branch: b, Insecure: c.insecure})
		}
	}
	return targets, notes
}
