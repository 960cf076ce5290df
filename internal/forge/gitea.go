package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// giteaClient speaks Gitea's API v1
// (https://docs.gitea.com/api/1.27/, the swagger of Gitea 1.27).
type giteaClient struct{ api *api }

func (c *giteaClient) Provider() Provider { return Gitea }

// giteaPR is the part of Gitea's PullRequest object kargo reads.
type giteaPR struct {
	Number         int64   `json:"number"`
	HTMLURL        string  `json:"html_url"`
	State          string  `json:"state"`
	Title          string  `json:"title"`
	Merged         bool    `json:"merged"`
	MergeCommitSHA *string `json:"merge_commit_sha"`
	Mergeable      bool    `json:"mergeable"`
	Head           struct {
		Ref    string `json:"ref"`
		SHA    string `json:"sha"`
		RepoID int64  `json:"repo_id"`
	} `json:"head"`
	Base struct {
		Ref    string `json:"ref"`
		RepoID int64  `json:"repo_id"`
	} `json:"base"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
}

func (p giteaPR) toPullRequest() PullRequest {
	pr := PullRequest{
		Number: p.Number, URL: p.HTMLURL, Title: p.Title,
		HeadBranch: p.Head.Ref, BaseBranch: p.Base.Ref, HeadSHA: p.Head.SHA,
		State: StateOpen,
	}
	switch {
	case p.Merged:
		pr.State = StateMerged
		if p.MergeCommitSHA != nil {
			pr.MergeCommitSHA = *p.MergeCommitSHA
		}
	case p.State == "closed":
		pr.State = StateClosed
	default:
		// Gitea says false while its background check runs, as for a
		// conflict: it never says "unknown".
		m := p.Mergeable
		pr.Mergeable = &m
	}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.Name)
	}
	return pr
}

func (c *giteaClient) OpenPullRequest(ctx context.Context, opts OpenOptions) (PullRequest, bool, error) {
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
		var p giteaPR
		status, err := c.api.do(ctx, op, http.MethodPost, c.api.repo.repoPath()+"/pulls", nil,
			map[string]any{"head": opts.Head, "base": opts.Base, "title": opts.Title, "body": opts.Body}, &p)
		switch {
		case status == http.StatusConflict:
			// Opened by someone else (or an earlier attempt) since the
			// search: Gitea allows one open pull request per head and
			// base.
			if existing, found, err = c.findOpen(ctx, op, opts.Head, opts.Base); err != nil {
				return PullRequest{}, false, err
			}
			if !found {
				return PullRequest{}, false, fmt.Errorf("%s: Gitea says one exists, but none is open", op)
			}
		case err != nil:
			return PullRequest{}, false, err
		default:
			existing, created = p, true
		}
	}
	if len(opts.Labels) > 0 {
		if err := c.addLabels(ctx, op, existing.Number, opts.Labels); err != nil {
			return PullRequest{}, false, err
		}
		pr, err := c.GetPullRequest(ctx, existing.Number)
		return pr, created, err
	}
	return existing.toPullRequest(), created, nil
}

// findOpen returns the open pull request from head to base of this
// repository, if there is one. Gitea's by-branch endpoint may return a
// closed one, so the open ones are listed instead.
func (c *giteaClient) findOpen(ctx context.Context, op, head, base string) (giteaPR, bool, error) {
	const limit = 50
	for page := 1; ; page++ {
		var prs []giteaPR
		q := url.Values{"state": {"open"}, "base_branch": {base}, "limit": {strconv.Itoa(limit)}, "page": {strconv.Itoa(page)}}
		if _, err := c.api.do(ctx, op, http.MethodGet, c.api.repo.repoPath()+"/pulls", q, nil, &prs); err != nil {
			return giteaPR{}, false, err
		}
		for _, p := range prs {
			// Only a head branch of the base repository itself.
			if p.Head.Ref == head && p.Base.Ref == base && p.Head.RepoID == p.Base.RepoID && !p.Merged && p.State == "open" {
				return p, true, nil
			}
		}
		if len(prs) < limit || page >= 100 {
			return giteaPR{}, false, nil
		}
	}
}

// findMerged returns the merged pull request from head to base whose head
// was the commit head points at now: one a promotion opened and someone
// merged before the promotion could record it, which opening again must
// not repeat.
func (c *giteaClient) findMerged(ctx context.Context, op, head, base string) (giteaPR, bool, error) {
	var branch struct {
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}
	if _, err := c.api.do(ctx, op, http.MethodGet, c.api.repo.repoPath()+"/branches/"+escapeBranch(head), nil, nil, &branch); err != nil {
		return giteaPR{}, false, err
	}
	var prs []giteaPR
	q := url.Values{"state": {"closed"}, "base_branch": {base}, "sort": {"recentupdate"}, "limit": {"50"}}
	if _, err := c.api.do(ctx, op, http.MethodGet, c.api.repo.repoPath()+"/pulls", q, nil, &prs); err != nil {
		return giteaPR{}, false, err
	}
	for _, p := range prs {
		if p.Merged && p.Head.Ref == head && p.Base.Ref == base && p.Head.RepoID == p.Base.RepoID && p.Head.SHA == branch.Commit.ID {
			return p, true, nil
		}
	}
	return giteaPR{}, false, nil
}

// addLabels puts labels (names) on pull request number, creating the
// labels the repository lacks, as GitHub does.
func (c *giteaClient) addLabels(ctx context.Context, op string, number int64, names []string) error {
	type label struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	ids := map[string]int64{}
	for page := 1; ; page++ {
		var labels []label
		q := url.Values{"limit": {"50"}, "page": {strconv.Itoa(page)}}
		if _, err := c.api.do(ctx, op, http.MethodGet, c.api.repo.repoPath()+"/labels", q, nil, &labels); err != nil {
			return err
		}
		for _, l := range labels {
			ids[l.Name] = l.ID
		}
		if len(labels) < 50 || page >= 20 {
			break
		}
	}
	var want []int64
	for _, n := range names {
		id, ok := ids[n]
		if !ok {
			var l label
			if _, err := c.api.do(ctx, op, http.MethodPost, c.api.repo.repoPath()+"/labels", nil,
				map[string]any{"name": n, "color": "#ededed"}, &l); err != nil {
				return err
			}
			id, ids[n] = l.ID, l.ID
		}
		want = append(want, id)
	}
	_, err := c.api.do(ctx, op, http.MethodPost, fmt.Sprintf("%s/issues/%d/labels", c.api.repo.repoPath(), number), nil,
		map[string]any{"labels": want}, nil)
	return err
}

func (c *giteaClient) get(ctx context.Context, op string, number int64) (giteaPR, error) {
	var p giteaPR
	_, err := c.api.do(ctx, op, http.MethodGet, fmt.Sprintf("%s/pulls/%d", c.api.repo.repoPath(), number), nil, nil, &p)
	return p, err
}

func (c *giteaClient) GetPullRequest(ctx context.Context, number int64) (PullRequest, error) {
	p, err := c.get(ctx, fmt.Sprintf("read pull request #%d of %s", number, c.api.repo.display()), number)
	if err != nil {
		return PullRequest{}, err
	}
	return p.toPullRequest(), nil
}

func (c *giteaClient) MergePullRequest(ctx context.Context, number int64, opts MergeOptions) (PullRequest, error) {
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
	if !p.Mergeable {
		return PullRequest{}, &NotMergeableError{Number: number, URL: p.HTMLURL,
			Reason: "Gitea does not find it mergeable: it conflicts with " + p.Base.Ref + ", is marked work in progress, or is still being checked"}
	}
	body := map[string]any{"Do": string(method)}
	if opts.HeadSHA != "" {
		body["head_commit_id"] = opts.HeadSHA
	}
	status, mergeErr := c.api.do(ctx, op, http.MethodPost, fmt.Sprintf("%s/pulls/%d/merge", c.api.repo.repoPath(), number), nil, body, nil)
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
		// Merged by this request, or by someone else just before it.
		return pr, nil
	case mergeErr != nil:
		// 405: a branch protection rule (approvals, checks), work in
		// progress, or a state Gitea will not merge; 409: the head
		// moved past head_commit_id, or the merge itself conflicted.
		var apiErr *Error
		reason := mergeErr.Error()
		if errors.As(mergeErr, &apiErr) && apiErr.Message != "" {
			if apiErr.Message == "User not allowed to merge PR" {
				// Not a state that changes by waiting.
				apiErr.Hint = "the credentials of project " + c.api.namespace + "'s git credential Secret for " + c.api.repo.display() + " may not merge into " + p.Base.Ref
				return PullRequest{}, apiErr
			}
			reason = "Gitea says: " + apiErr.Message
		}
		// Gitea answers "Please try again later" while it checks the pull
		// request again (after its base moved, say).
		pending := strings.Contains(strings.ToLower(reason), "try again later")
		return PullRequest{}, &NotMergeableError{Number: number, URL: p.HTMLURL, Reason: reason, Pending: pending}
	}
	return PullRequest{}, fmt.Errorf("%s: Gitea accepted the merge, but the pull request is %s", op, pr.State)
}
