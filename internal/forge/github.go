package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// githubClient speaks GitHub's REST API, version 2022-11-28
// (https://docs.github.com/rest/pulls/pulls, /rest/issues/labels).
type githubClient struct{ api *api }

func (c *githubClient) Provider() Provider { return GitHub }

// githubPR is the part of GitHub's pull request object kargo reads. List
// answers leave out merged and mergeable; merged_at says merged in both.
type githubPR struct {
	Number         int64   `json:"number"`
	HTMLURL        string  `json:"html_url"`
	State          string  `json:"state"`
	Title          string  `json:"title"`
	Merged         bool    `json:"merged"`
	MergedAt       *string `json:"merged_at"`
	MergeCommitSHA *string `json:"merge_commit_sha"`
	Mergeable      *bool   `json:"mergeable"`
	MergeableState string  `json:"mergeable_state"`
	Head           struct {
		Ref  string `json:"ref"`
		SHA  string `json:"sha"`
		Repo *struct {
			FullName string `json:"full_name"`
		} `json:"repo"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
}

func (p githubPR) toPullRequest() PullRequest {
	pr := PullRequest{
		Number: p.Number, URL: p.HTMLURL, Title: p.Title,
		HeadBranch: p.Head.Ref, BaseBranch: p.Base.Ref, HeadSHA: p.Head.SHA,
		State: StateOpen,
	}
	switch {
	case p.Merged || p.MergedAt != nil:
		pr.State = StateMerged
		// For an open pull request, merge_commit_sha is GitHub's test
		// merge: it means something only once merged.
		if p.MergeCommitSHA != nil {
			pr.MergeCommitSHA = *p.MergeCommitSHA
		}
	case p.State == "closed":
		pr.State = StateClosed
	default:
		pr.Mergeable = p.Mergeable
	}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.Name)
	}
	return pr
}

func (c *githubClient) OpenPullRequest(ctx context.Context, opts OpenOptions) (PullRequest, bool, error) {
	if err := checkOpen(opts); err != nil {
		return PullRequest{}, false, err
	}
	op := fmt.Sprintf("open a pull request from %s to %s in %s", opts.Head, opts.Base, c.api.repo.display())
	existing, found, err := c.findOpen(ctx, op, opts.Head, opts.Base)
	if err != nil {
		return PullRequest{}, false, err
	}
	if !found {
		merged, ok, err := c.findMerged(ctx, op, opts.Head, opts.Base)
		if err != nil {
			return PullRequest{}, false, err
		}
		if ok {
			return merged.toPullRequest(), false, nil
		}
	}
	created := false
	if !found {
		var p githubPR
		status, err := c.api.do(ctx, op, http.MethodPost, c.api.repo.repoPath()+"/pulls", nil,
			map[string]any{"head": opts.Head, "base": opts.Base, "title": opts.Title, "body": opts.Body}, &p)
		var apiErr *Error
		switch {
		case status == http.StatusUnprocessableEntity && errors.As(err, &apiErr) && strings.Contains(apiErr.Message, "already exists"):
			// "A pull request already exists for OWNER:HEAD.": opened
			// since the search.
			if existing, found, err = c.findOpen(ctx, op, opts.Head, opts.Base); err != nil {
				return PullRequest{}, false, err
			}
			if !found {
				return PullRequest{}, false, fmt.Errorf("%s: GitHub says one exists, but none is open", op)
			}
		case err != nil:
			return PullRequest{}, false, err
		default:
			existing, created = p, true
		}
	}
	if len(opts.Labels) > 0 {
		// Pull requests are issues to GitHub's labels API, which creates
		// the labels a repository lacks.
		if _, err := c.api.do(ctx, op, http.MethodPost, fmt.Sprintf("%s/issues/%d/labels", c.api.repo.repoPath(), existing.Number), nil,
			map[string]any{"labels": opts.Labels}, nil); err != nil {
			return PullRequest{}, false, err
		}
		pr, err := c.GetPullRequest(ctx, existing.Number)
		return pr, created, err
	}
	return existing.toPullRequest(), created, nil
}

// findOpen returns the open pull request from head (a branch of this
// repository) to base; GitHub allows one.
func (c *githubClient) findOpen(ctx context.Context, op, head, base string) (githubPR, bool, error) {
	var prs []githubPR
	q := url.Values{"state": {"open"}, "head": {c.api.repo.owner + ":" + head}, "base": {base}, "per_page": {"100"}}
	if _, err := c.api.do(ctx, op, http.MethodGet, c.api.repo.repoPath()+"/pulls", q, nil, &prs); err != nil {
		return githubPR{}, false, err
	}
	want := c.api.repo.owner + "/" + c.api.repo.name
	for _, p := range prs {
		if p.Head.Ref == head && p.Base.Ref == base && p.State == "open" && p.Head.Repo != nil && strings.EqualFold(p.Head.Repo.FullName, want) {
			return p, true, nil
		}
	}
	return githubPR{}, false, nil
}

// findMerged returns the merged pull request from head to base whose head
// was the commit head points at now (see giteaClient.findMerged).
func (c *githubClient) findMerged(ctx context.Context, op, head, base string) (githubPR, bool, error) {
	var branch struct {
		Commit struct {
			SHA string `json:"sha"`
		} `json:"commit"`
	}
	if _, err := c.api.do(ctx, op, http.MethodGet, c.api.repo.repoPath()+"/branches/"+escapeBranch(head), nil, nil, &branch); err != nil {
		return githubPR{}, false, err
	}
	var prs []githubPR
	q := url.Values{"state": {"closed"}, "head": {c.api.repo.owner + ":" + head}, "base": {base}, "sort": {"updated"}, "direction": {"desc"}, "per_page": {"30"}}
	if _, err := c.api.do(ctx, op, http.MethodGet, c.api.repo.repoPath()+"/pulls", q, nil, &prs); err != nil {
		return githubPR{}, false, err
	}
	for _, p := range prs {
		if p.MergedAt != nil && p.Head.Ref == head && p.Base.Ref == base && p.Head.SHA == branch.Commit.SHA {
			return p, true, nil
		}
	}
	return githubPR{}, false, nil
}

func (c *githubClient) get(ctx context.Context, op string, number int64) (githubPR, error) {
	var p githubPR
	_, err := c.api.do(ctx, op, http.MethodGet, fmt.Sprintf("%s/pulls/%d", c.api.repo.repoPath(), number), nil, nil, &p)
	return p, err
}

func (c *githubClient) GetPullRequest(ctx context.Context, number int64) (PullRequest, error) {
	p, err := c.get(ctx, fmt.Sprintf("read pull request #%d of %s", number, c.api.repo.display()), number)
	if err != nil {
		return PullRequest{}, err
	}
	return p.toPullRequest(), nil
}

func (c *githubClient) MergePullRequest(ctx context.Context, number int64, opts MergeOptions) (PullRequest, error) {
	method, err := mergeMethod(opts.Method)
	if err != nil {
		return PullRequest{}, err
	}
	op := fmt.Sprintf("merge pull request #%d of %s", number, c.api.repo.display())
	p, err := c.get(ctx, op, number)
	if err != nil {
		return PullRequest{}, err
	}
	if pr, done, err := mergedOrClosed(p.toPullRequest()); done {
		return pr, err
	}
	if opts.HeadSHA != "" && p.Head.SHA != opts.HeadSHA {
		return PullRequest{}, &NotMergeableError{Number: number, URL: p.HTMLURL, Reason: fmt.Sprintf("its head is %s, not %s", p.Head.SHA, opts.HeadSHA)}
	}
	if p.Mergeable != nil && !*p.Mergeable {
		return PullRequest{}, &NotMergeableError{Number: number, URL: p.HTMLURL,
			Reason: fmt.Sprintf("GitHub does not find it mergeable (mergeable_state %q): it conflicts with %s, or a rule blocks it", p.MergeableState, p.Base.Ref)}
	}
	// mergeable null means GitHub is still computing; the merge request
	// itself answers 405 when it cannot merge.
	body := map[string]any{"merge_method": string(method)}
	if opts.HeadSHA != "" {
		body["sha"] = opts.HeadSHA
	}
	status, mergeErr := c.api.do(ctx, op, http.MethodPut, fmt.Sprintf("%s/pulls/%d/merge", c.api.repo.repoPath(), number), nil, body, nil)
	if mergeErr != nil && status != http.StatusMethodNotAllowed && status != http.StatusConflict {
		return PullRequest{}, mergeErr
	}
	after, err := c.get(ctx, op, number)
	if err != nil {
		return PullRequest{}, err
	}
	pr := after.toPullRequest()
	switch {
	case pr.State == StateMerged:
		return pr, nil
	case mergeErr != nil:
		// 405: not mergeable (conflicts, required reviews or checks);
		// 409: the head moved past sha.
		var apiErr *Error
		reason := mergeErr.Error()
		if errors.As(mergeErr, &apiErr) && apiErr.Message != "" {
			reason = "GitHub says: " + apiErr.Message
		}
		return PullRequest{}, &NotMergeableError{Number: number, URL: p.HTMLURL, Reason: reason, Pending: p.Mergeable == nil}
	}
	return PullRequest{}, fmt.Errorf("%s: GitHub accepted the merge, but the pull request is %s", op, pr.State)
}
