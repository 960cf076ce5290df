package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/argocd"
	"github.com/kargohq/kargo/internal/promote"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// The steps of a Stage's promotionMechanisms (promote.Process): each does
// its part of what the mechanisms always did, through internal/promote's
// Promoter, on the mechanisms of the Stage the Promotion promotes into.
// They need no work directory: a Git update commits through the shared
// Git cache, as it always did.

// mechanisms is what the three steps share: the Promoter, and the Stage
// and Freight of the Promotion.
type mechanisms struct{ p *promote.Promoter }

func newMechanisms(d Deps) mechanisms {
	m := mechanisms{p: &promote.Promoter{Credentials: d.Credentials, Client: d.Client, ArgoCD: d.ArgoCD}}
	if d.Git != nil {
		m.p.Git = d.Git
	}
	return m
}

// of decodes the step's configuration into cfg (nil: the step takes none)
// and returns the Stage and the promoted Freight, or an error when the step
// does not run in a Promotion of a Stage with promotionMechanisms.
func (m mechanisms) of(sc *engine.StepContext, raw engine.Config, step string, cfg any) (*kargoapi.Stage, *kargoapi.Freight, error) {
	if cfg == nil {
		cfg = &struct{}{}
	}
	if err := raw.Decode(cfg); err != nil {
		return nil, nil, err
	}
	if sc.StageObject == nil || sc.Promotion == nil || len(sc.Freight) == 0 {
		return nil, nil, fmt.Errorf("%s runs only in a Promotion: %w", step, sourceerr.ErrInvalid)
	}
	if sc.StageObject.Spec.PromotionMechanisms == nil {
		return nil, nil, fmt.Errorf("%s applies a Stage's promotionMechanisms, and Stage %s has none: %w", step, sc.Stage, sourceerr.ErrInvalid)
	}
	return sc.StageObject, sc.Freight[0], nil
}

// waitForSync turns err, when it says an Argo CD Application is in the
// middle of a sync, into a wait for that sync to end, for up to
// promote.MaxSyncWait from the Promotion's start: a sync asked for now would
// be dropped when the running one ends. After that, err stands.
func (m mechanisms) waitForSync(sc *engine.StepContext, err error) (engine.Result, error) {
	now := time.Now
	if sc.Now != nil {
		now = sc.Now
	}
	if start := sc.Promotion.Status.StartTime; errors.Is(err, argocd.ErrSyncRunning) && (start == nil || now().Sub(start.Time) < promote.MaxSyncWait) {
		return engine.Result{Waiting: true, RequeueAfter: argocdSyncWait, Message: err.Error()}, nil
	}
	return engine.Result{}, err
}

// mechanismsCheck checks, before anything is written, what the mechanisms
// will write (promote.Promoter.Check). It only reads, so its record need
// not be durable before the git updates start.
type mechanismsCheck struct{ mechanisms }

func (mechanismsCheck) ReadOnly() {}

func (s mechanismsCheck) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	st, f, err := s.of(sc, cfg, promote.StepCheck, nil)
	if err != nil {
		return engine.Result{}, err
	}
	left, err := s.p.Check(ctx, st, f)
	if err != nil {
		return s.waitForSync(sc, err)
	}
	return engine.Result{Message: strings.Join(left, "; ")}, nil
}

// mechanismsGitUpdate applies one gitRepoUpdate with one commit
// (promote.Promoter.UpdateRepo). It pushes, so it is never replayed; a
// commit a crash kept from being recorded is found by its Kargo-Promotion
// trailer.
type mechanismsGitUpdate struct{ mechanisms }

type mechanismsGitUpdateConfig struct {
	Index *int `json:"index"`
}

func (s mechanismsGitUpdate) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c mechanismsGitUpdateConfig
	st, f, err := s.of(sc, cfg, promote.StepGitUpdate, &c)
	switch {
	case err != nil:
		return engine.Result{}, err
	case c.Index == nil:
		return engine.Result{}, fmt.Errorf("index: name a gitRepoUpdate: %w", sourceerr.ErrInvalid)
	case s.p.Git == nil:
		return engine.Result{}, errNoGit(promote.StepGitUpdate)
	}
	line, head, err := s.p.UpdateRepo(ctx, st, f, sc.Promotion, *c.Index)
	if err != nil {
		return engine.Result{}, err
	}
	u := st.Spec.PromotionMechanisms.GitRepoUpdates[*c.Index]
	return engine.Result{Message: line, Output: map[string]any{
		"repoURL": string(u.RepoURL), "branch": string(u.WriteBranch), "commit": head,
	}}, nil
}

// mechanismsArgoCDUpdate applies the argoCDAppUpdates
// (promote.Promoter.UpdateApps), pointing sources of a repository a Git
// update wrote at the commit that update recorded.
type mechanismsArgoCDUpdate struct{ mechanisms }

func (s mechanismsArgoCDUpdate) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	st, f, err := s.of(sc, cfg, promote.StepArgoCDUpdate, nil)
	if err != nil {
		return engine.Result{}, err
	}
	heads := map[string]string{}
	for i := range st.Spec.PromotionMechanisms.GitRepoUpdates {
		out, _ := sc.Outputs[promote.GitUpdateAlias(i)].(map[string]any)
		repo, _ := out["repoURL"].(string)
		commit, _ := out["commit"].(string)
		if repo != "" && commit != "" {
			heads[repo] = commit
		}
	}
	lines, err := s.p.UpdateApps(ctx, st, f, heads)
	if err != nil {
		return s.waitForSync(sc, err)
	}
	return engine.Result{Message: strings.Join(lines, "; ")}, nil
}
