package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
)

// Provider names a kind of forge.
type Provider string

// The forges this package speaks to.
const (
	// GitHub is github.com or a GitHub Enterprise Server.
	GitHub Provider = "github"
	// Gitea is a Gitea (or Forgejo) server.
	Gitea Provider = "gitea"
)

// State is where a pull request stands.
type State string

// The states of a pull request.
const (
	// StateOpen is a pull request that is neither merged nor closed.
	StateOpen State = "Open"
	// StateMerged is a merged pull request; its MergeCommitSHA is set.
	StateMerged State = "Merged"
	// StateClosed is a pull request closed without being merged.
	StateClosed State = "Closed"
)

// PullRequest is what kargo reads of a pull request.
type PullRequest struct {
	// Number is the pull request's number in its repository.
	Number int64
	// URL is the pull request's web page, for people.
	URL string
	// State is open, merged or closed without merge.
	State State
	// Title is the pull request's title.
	Title string
	// HeadBranch and BaseBranch are the branch merged and the branch
	// merged into.
	HeadBranch, BaseBranch string
	// HeadSHA is the commit HeadBranch pointed at when the forge last
	// looked.
	HeadSHA string
	// MergeCommitSHA is the commit the merge made on BaseBranch (for a
	// squash or rebase merge, the last commit it made); set only when
	// State is StateMerged.
	MergeCommitSHA string
	// Mergeable says whether the forge would merge it now; nil when the
	// forge has not decided yet (GitHub computes it in the background).
	// Gitea says false while it is still checking.
	Mergeable *bool
	// Labels are the names of the pull request's labels.
	Labels []string
}

// OpenOptions describe a pull request to open.
type OpenOptions struct {
	// Head is the branch to merge, in the same repository.
	Head string
	// Base is the branch to merge into.
	Base string
	// Title and Body are the pull request's title and description.
	Title, Body string
	// Labels are label names to put on it; missing ones are created.
	Labels []string
}

// MergeMethod is how a pull request is merged.
type MergeMethod string

// The merge methods both forges offer.
const (
	// MergeCommit merges with a merge commit (the default).
	MergeCommit MergeMethod = "merge"
	// Squash squashes the pull request's commits into one commit on the
	// base branch.
	Squash MergeMethod = "squash"
	// Rebase replays the pull request's commits onto the base branch.
	Rebase MergeMethod = "rebase"
)

// MergeOptions describe how to merge a pull request.
type MergeOptions struct {
	// Method is the merge method; MergeCommit when empty.
	Method MergeMethod
	// HeadSHA, when set, is the commit the pull request's head must be at:
	// the forge refuses the merge when someone pushed since, so that kargo
	// never merges a commit it did not see.
	HeadSHA string
}

// Client manages the pull requests of one repository. Its methods are safe
// for concurrent use.
type Client interface {
	// Provider says which forge the client talks to.
	Provider() Provider
	// OpenPullRequest opens a pull request from opts.Head to opts.Base,
	// or returns the open one from the same head to the same base, with
	// opts.Labels added; created says which. When none is open, a merged
	// one whose head was the commit opts.Head points at now is returned
	// (State StateMerged) rather than a second one opened.
	OpenPullRequest(ctx context.Context, opts OpenOptions) (pr PullRequest, created bool, err error)
	// GetPullRequest reads pull request number.
	GetPullRequest(ctx context.Context, number int64) (PullRequest, error)
	// MergePullRequest merges pull request number and returns it merged.
	// A pull request that is already merged is returned as it is; one
	// closed without merge is an error matching ErrClosed, and one the
	// forge will not merge now (conflicts, missing approvals or checks,
	// a head that moved past opts.HeadSHA) an error matching
	// ErrNotMergeable.
	MergePullRequest(ctx context.Context, number int64, opts MergeOptions) (PullRequest, error)
}

// Sentinel errors for errors.Is.
var (
	// ErrNotMergeable means the forge will not merge the pull request
	// now. It may later: after a person resolves conflicts, approves, or
	// checks pass.
	ErrNotMergeable = errors.New("pull request cannot be merged")
	// ErrClosed means the pull request was closed without being merged.
	ErrClosed = errors.New("pull request is closed without being merged")
)

// NotMergeableError says why a forge will not merge a pull request.
type NotMergeableError struct {
	// Number and URL name the pull request.
	Number int64
	URL    string
	// Reason is the forge's reason, or kargo's reading of its answer.
	Reason string
	// Pending is true when the forge is still computing whether it could
	// merge; asking again shortly may succeed.
	Pending bool
}

// Error says which pull request and why.
func (e *NotMergeableError) Error() string {
	return fmt.Sprintf("pull request #%d (%s) cannot be merged: %s", e.Number, e.URL, e.Reason)
}

// Is makes every NotMergeableError match ErrNotMergeable.
func (e *NotMergeableError) Is(target error) bool { return target == ErrNotMergeable }

// Repository names a repository whose pull requests a Client manages.
type Repository struct {
	// Namespace is the project namespace whose git credential Secrets
	// authenticate the requests.
	Namespace string
	// URL is the repository's address as git clones it over HTTPS, such
	// as https://github.com/example/gitops.git.
	URL string
	// Provider is the forge; detected from URL when empty.
	Provider Provider
}

// Forges makes Clients. Its fields are read-only once it is in use; its
// methods are safe for concurrent use.
type Forges struct {
	// Credentials finds the project's git credentials for a repository.
	Credentials credentials.Store
	// Egress dials every connection; a Policy with no rules (the
	// strictest) when nil.
	Egress *egress.Policy
	// Transport is the base HTTP transport, for TLS settings; its dialing
	// and proxy settings are replaced by Egress's. http.DefaultTransport's
	// settings when nil.
	Transport *http.Transport
	// Timeout bounds one request; 30 s when zero.
	Timeout time.Duration

	once   sync.Once
	client *http.Client
	// probed caches detected providers by web root, since a promotion
	// asks about one repository on every pass while it waits.
	probed sync.Map
}

// maxResponse bounds what one answer of a forge may cost.
const maxResponse = 8 << 20

func (f *Forges) httpClient() *http.Client {
	f.once.Do(func() {
		policy := f.Egress
		if policy == nil {
			policy = egress.New(egress.Options{})
		}
		timeout := f.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		f.client = &http.Client{
			Transport: egress.LimitBodies(policy.Transport(f.Transport), maxResponse, "the forge's answer", ""),
			Timeout:   timeout,
			// A redirect is followed only on the same scheme and host:
			// anywhere else, the request's credentials would go where
			// the Secret does not name.
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				first := via[0].URL
				if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
					return &redirectError{from: first.Scheme + "://" + first.Host, to: req.URL.Scheme + "://" + req.URL.Host}
				}
				if len(via) >= 5 {
					return errors.New("stopped after 5 redirects")
				}
				return nil
			},
		}
	})
	return f.client
}

type redirectError struct{ from, to string }

func (e *redirectError) Error() string {
	return fmt.Sprintf("%s redirected to %s: kargo follows a forge's redirects only on its own host, since the request carries the repository's credentials", e.from, e.to)
}

// Client returns a Client for repo's pull requests, detecting its forge
// when repo.Provider is empty, with the project's credentials for repo.URL.
func (f *Forges) Client(ctx context.Context, repo Repository) (Client, error) {
	ref, err := parseRepoURL(repo.URL)
	if err != nil {
		return nil, err
	}
	provider := repo.Provider
	switch provider {
	case GitHub, Gitea:
	case "":
		if provider, err = f.detect(ctx, ref); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("provider %q of %s is not one kargo speaks to: use %s or %s", provider, ref.display(), GitHub, Gitea)
	}
	var creds *credentials.Credentials
	if f.Credentials != nil {
		if creds, err = f.Credentials.Get(ctx, repo.Namespace, credentials.TypeGit, repo.URL); err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", ref.display(), err)
		}
	}
	a := &api{
		http:      f.httpClient(),
		provider:  provider,
		repo:      ref,
		namespace: repo.Namespace,
	}
	if creds != nil && creds.Password == "" {
		a.noToken = true
	}
	if creds != nil && creds.Password != "" {
		if ref.web.Scheme != "https" && !isLoopback(ref.web.Hostname()) {
			return nil, fmt.Errorf("send the credentials of %s to %s: credentials are never sent over plain http://; use https://", creds, ref.display())
		}
		a.creds = creds
	}
	switch provider {
	case GitHub:
		a.base = ref.githubAPI()
		return &githubClient{api: a}, nil
	default:
		a.base = ref.giteaAPI()
		return &giteaClient{api: a}, nil
	}
}

// detect says which forge serves ref: GitHub for github.com, Gitea for a
// host that answers Gitea's version endpoint.
func (f *Forges) detect(ctx context.Context, ref repoRef) (Provider, error) {
	if ref.isGitHubDotCom() {
		return GitHub, nil
	}
	key := ref.web.String()
	if p, ok := f.probed.Load(key); ok {
		return p.(Provider), nil
	}
	// The probe carries no credentials: the version endpoint is public.
	probe := &api{http: f.httpClient(), provider: Gitea, repo: ref, base: ref.giteaAPI()}
	var v struct {
		Version string `json:"version"`
	}
	_, err := probe.do(ctx, "find out which forge serves "+ref.display(), http.MethodGet, "/version", nil, nil, &v)
	if err == nil && v.Version != "" {
		f.probed.Store(key, Gitea)
		return Gitea, nil
	}
	var apiErr *Error
	if err != nil && !errors.As(err, &apiErr) {
		// Not an answer at all: the policy refused the address, or the
		// host is unreachable.
		return "", err
	}
	return "", fmt.Errorf("cannot tell which forge serves %s: %s is not github.com and does not answer as a Gitea (GET %s/version); set the provider (%s, also for GitHub Enterprise Server, or %s)",
		ref.display(), ref.web.Host, ref.giteaAPI(), GitHub, Gitea)
}

func checkOpen(opts OpenOptions) error {
	switch {
	case opts.Head == "" || opts.Base == "":
		return errors.New("open a pull request: both the head and the base branch are needed")
	case opts.Head == opts.Base:
		return fmt.Errorf("open a pull request: head and base are both %s", opts.Head)
	case opts.Title == "":
		return fmt.Errorf("open a pull request from %s to %s: a title is needed", opts.Head, opts.Base)
	}
	return nil
}

func mergeMethod(m MergeMethod) (MergeMethod, error) {
	switch m {
	case "":
		return MergeCommit, nil
	case MergeCommit, Squash, Rebase:
		return m, nil
	}
	return "", fmt.Errorf("merge method %q is not one of %s, %s or %s", m, MergeCommit, Squash, Rebase)
}

// mergedOrClosed ends a merge before it starts: a merged pull request is
// returned as it is, and one closed without merge is an error.
func mergedOrClosed(pr PullRequest) (PullRequest, bool, error) {
	switch pr.State {
	case StateMerged:
		return pr, true, nil
	case StateClosed:
		return PullRequest{}, true, fmt.Errorf("merge pull request #%d (%s): %w", pr.Number, pr.URL, ErrClosed)
	}
	return PullRequest{}, false, nil
}
