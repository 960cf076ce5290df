package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kargohq/kargo/internal/forge"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// prPoll is how often a step waiting on a pull request looks again.
const prPoll = 10 * time.Second

// prRepo is how the pull-request steps name a repository.
type prRepo struct {
	RepoURL  string `json:"repoURL"`
	Provider string `json:"provider,omitempty"`
	// InsecureSkipTLSVerify is accepted for Kargo's manifests and refused
	// when true: the forge's token would travel without knowing to whom.
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
}

func (r prRepo) client(ctx context.Context, forges *forge.Forges, sc *engine.StepContext) (forge.Client, error) {
	if forges == nil {
		return nil, fmt.Errorf("this controller was started without pull-request support: %w", sourceerr.ErrInvalid)
	}
	if r.InsecureSkipTLSVerify {
		return nil, fmt.Errorf("insecureSkipTLSVerify: kargo does not send a forge's token without verifying its certificate; give the controller the forge's CA instead: %w", sourceerr.ErrInvalid)
	}
	if r.RepoURL == "" {
		return nil, fmt.Errorf("repoURL: name the repository: %w", sourceerr.ErrInvalid)
	}
	return forges.Client(ctx, forge.Repository{Namespace: sc.Project, URL: r.RepoURL, Provider: forge.Provider(r.Provider)})
}

func prOutput(pr forge.PullRequest) map[string]any {
	return map[string]any{"id": pr.Number, "url": pr.URL}
}

// openPR opens a pull request from a branch a step pushed (Kargo's
// git-open-pr). It is run again safely: an open pull request from the same
// branch to the same base, or one merged from the commit the branch holds,
// is returned rather than a second one opened.
type openPR struct{ forges *forge.Forges }

type openPRConfig struct {
	prRepo
	SourceBranch       string   `json:"sourceBranch"`
	TargetBranch       string   `json:"targetBranch,omitempty"`
	CreateTargetBranch bool     `json:"createTargetBranch,omitempty"`
	Title              string   `json:"title,omitempty"`
	Description        string   `json:"description,omitempty"`
	Labels             []string `json:"labels,omitempty"`
}

func (s openPR) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c openPRConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	switch {
	case c.SourceBranch == "":
		return engine.Result{}, fmt.Errorf("sourceBranch: name the branch to merge, such as ${{ outputs.push.branch }}: %w", sourceerr.ErrInvalid)
	case c.TargetBranch == "":
		return engine.Result{}, fmt.Errorf("targetBranch: name the branch to merge into: %w", sourceerr.ErrInvalid)
	case c.CreateTargetBranch:
		return engine.Result{}, fmt.Errorf("createTargetBranch is not supported by this kargo yet: create %s first (a git-push to it does): %w", c.TargetBranch, sourceerr.ErrInvalid)
	}
	client, err := c.client(ctx, s.forges, sc)
	if err != nil {
		return engine.Result{}, err
	}
	title := c.Title
	if title == "" {
		title = "Promote to " + sc.Stage
		if len(sc.Freight) > 0 {
			f := sc.Freight[0]
			title = fmt.Sprintf("Promote %s to %s", firstOf(f.Alias, f.Name), sc.Stage)
		}
	}
	pr, created, err := client.OpenPullRequest(ctx, forge.OpenOptions{Head: c.SourceBranch, Base: c.TargetBranch, Title: title, Body: c.Description, Labels: c.Labels})
	if err != nil {
		return engine.Result{}, err
	}
	verb := "opened"
	if !created {
		verb = "found"
	}
	// prNumber is the name Kargo's docs still use
	// (task.outputs['open-pr'].prNumber) beside pr.id.
	return engine.Result{Message: fmt.Sprintf("%s pull request #%d: %s", verb, pr.Number, pr.URL), Output: map[string]any{"pr": prOutput(pr), "prNumber": pr.Number}}, nil
}

// waitForPR waits until a pull request is merged (Kargo's git-wait-for-pr):
// the Promotion waits, saying so with the pull request's address, while it
// is open; succeeds once it is merged; and fails when it is closed without
// being merged.
type waitForPR struct{ forges *forge.Forges }

type prNumberConfig struct {
	prRepo
	PRNumber any `json:"prNumber"`
	// Wait (git-merge-pr) waits while the forge will not merge yet.
	Wait bool `json:"wait,omitempty"`
	// Method (git-merge-pr) is merge, squash or rebase.
	Method string `json:"method,omitempty"`
}

// prTarget reads the configuration of a step that acts on one pull
// request, and makes the client for its repository.
func prTarget(ctx context.Context, forges *forge.Forges, sc *engine.StepContext, cfg engine.Config) (prNumberConfig, int64, forge.Client, error) {
	var c prNumberConfig
	if err := cfg.Decode(&c); err != nil {
		return c, 0, nil, err
	}
	n, err := c.number()
	if err != nil {
		return c, 0, nil, err
	}
	client, err := c.client(ctx, forges, sc)
	return c, n, client, err
}

func (c prNumberConfig) number() (int64, error) {
	switch n := c.PRNumber.(type) {
	case float64:
		if n > 0 && n == float64(int64(n)) {
			return int64(n), nil
		}
	case string:
		if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("prNumber: %v is not a pull request number; use ${{ outputs['open-pr'].pr.id }}: %w", c.PRNumber, sourceerr.ErrInvalid)
}

func (s waitForPR) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	_, n, client, err := prTarget(ctx, s.forges, sc, cfg)
	if err != nil {
		return engine.Result{}, err
	}
	pr, err := client.GetPullRequest(ctx, n)
	if err != nil {
		return engine.Result{}, err
	}
	switch pr.State {
	case forge.StateMerged:
		return engine.Result{Message: fmt.Sprintf("pull request #%d merged as %s", pr.Number, short(pr.MergeCommitSHA)),
			Output: map[string]any{"commit": pr.MergeCommitSHA, "pr": prOutput(pr)}}, nil
	case forge.StateClosed:
		return engine.Result{}, fmt.Errorf("pull request #%d (%s) was closed without being merged: %w: %w", pr.Number, pr.URL, forge.ErrClosed, sourceerr.ErrInvalid)
	default:
		return engine.Result{Waiting: true, RequeueAfter: prPoll, Message: fmt.Sprintf("waiting for pull request #%d to be merged: %s", pr.Number, pr.URL)}, nil
	}
}

// mergePR merges a pull request (Kargo's git-merge-pr), with the project's
// credentials; with wait, it waits while the forge will not merge yet
// (approvals, checks), else that fails the step.
type mergePR struct{ forges *forge.Forges }

func (s mergePR) Run(ctx context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	c, n, client, err := prTarget(ctx, s.forges, sc, cfg)
	if err != nil {
		return engine.Result{}, err
	}
	pr, err := client.MergePullRequest(ctx, n, forge.MergeOptions{Method: forge.MergeMethod(c.Method)})
	var notYet *forge.NotMergeableError
	switch {
	case errors.As(err, &notYet) && c.Wait:
		return engine.Result{Waiting: true, RequeueAfter: prPoll, Message: fmt.Sprintf("waiting until pull request #%d can be merged: %s", n, notYet.Reason)}, nil
	case errors.Is(err, forge.ErrClosed):
		return engine.Result{}, fmt.Errorf("pull request #%d: %w: %w", n, err, sourceerr.ErrInvalid)
	case err != nil:
		return engine.Result{}, err
	}
	return engine.Result{Message: fmt.Sprintf("merged pull request #%d as %s", pr.Number, short(pr.MergeCommitSHA)),
		Output: map[string]any{"commit": pr.MergeCommitSHA, "pr": prOutput(pr)}}, nil
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
