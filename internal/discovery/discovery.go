// Package discovery asks every repository a Warehouse (or a Stage with its own
// repository subscriptions) subscribes to for its newest artifact, looking up
// credentials in the project namespace, and reports what it found and which
// subscriptions failed.
package discovery

import (
	"context"
	"fmt"
	"sync"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
)

// GitSource lists the commits of a Git subscription, newest first.
type GitSource interface {
	Discover(ctx context.Context, sub kargoapi.GitSubscription, creds *credentials.Credentials, limit int, maxAge time.Duration) ([]kargoapi.GitCommit, error)
	// InvalidateBefore says repoURL changed at t: listings begun before
	// the first call with that t must not be reused.
	InvalidateBefore(repoURL string, t time.Time)
}

// ImageSource lists the images of an image subscription, newest first.
type ImageSource interface {
	Discover(ctx context.Context, sub kargoapi.ImageSubscription, creds *credentials.Credentials, limit int) ([]kargoapi.Image, error)
}

// ChartSource lists the versions of a chart subscription, newest first.
type ChartSource interface {
	Discover(ctx context.Context, sub kargoapi.ChartSubscription, creds *credentials.Credentials, limit int) ([]kargoapi.Chart, error)
}

// Request says what to discover.
type Request struct {
	// Namespace is the project whose credential Secrets apply.
	Namespace string
	// Origin names the subscriber (a Warehouse, or a Stage with its own
	// subscriptions) in the discovery metrics; empty records none of
	// them per subscriber.
	Origin kargoapi.FreightOrigin
	// Subscriptions are the repositories to ask.
	Subscriptions kargoapi.RepoSubscriptions
	// Limit caps the candidates considered per subscription.
	Limit int
	// MaxAge is how old a Git listing shared with other subscribers of the
	// same repository may be; usually the subscriber's polling interval.
	MaxAge time.Duration
	// ChangedAt, when set, says the repositories may have changed at that
	// time (a refresh was requested): shared listings older than that are
	// not reused, newer ones are, so that subscribers refreshed by one push
	// still share one listing.
	ChangedAt time.Time
}

// Result holds the newest artifact of every subscription that succeeded,
// in subscription order, and the failures of the others.
type Result struct {
	Commits  []kargoapi.GitCommit
	Images   []kargoapi.Image
	Charts   []kargoapi.Chart
	Failures []Failure
	// Candidates are the artifacts every subscription that succeeded
	// found, newest first, at most kargoapi.MaxDiscoveredPerSubscription
	// each, subscription after subscription.
	Candidates kargoapi.DiscoveredArtifacts
}

// Failure is one subscription that could not be discovered.
type Failure struct {
	// Subscription names the subscription, such as "image nginx".
	Subscription string
	// Err says why.
	Err error
}

// Error names the subscription and the cause.
func (f Failure) Error() string { return f.Subscription + ": " + f.Err.Error() }

// Unwrap returns the cause, so errors.Is and errors.As see it.
func (f Failure) Unwrap() error { return f.Err }

// Discoverer asks sources for their newest artifacts.
type Discoverer struct {
	Git         GitSource
	Images      ImageSource
	Charts      ChartSource
	Credentials credentials.Store
	// Parallelism bounds the subscriptions of one request asked at once;
	// zero means 4.
	Parallelism int
}

// Discover asks every subscription of req concurrently. It never fails as a
// whole: each subscription succeeds or is reported in Result.Failures, so a
// bad subscription never hides what the others found.
func (d *Discoverer) Discover(ctx context.Context, req Request) Result {
	start := time.Now()
	subs := req.Subscriptions
	commits := make([]*kargoapi.GitCommit, len(subs.Git))
	images := make([]*kargoapi.Image, len(subs.Images))
	charts := make([]*kargoapi.Chart, len(subs.Charts))
	allCommits := make([][]kargoapi.GitCommit, len(subs.Git))
	allImages := make([][]kargoapi.Image, len(subs.Images))
	allCharts := make([][]kargoapi.Chart, len(subs.Charts))
	failures := make([]*Failure, len(subs.Git)+len(subs.Images)+len(subs.Charts))

	parallel := d.Parallelism
	if parallel <= 0 {
		parallel = 4
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	run := func(slot int, name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := f(); err != nil {
				failures[slot] = &Failure{Subscription: name, Err: err}
			}
		}()
	}

	slot := 0
	for i, sub := range subs.Git {
		run(slot, "git "+string(sub.RepoURL), func() error {
			creds, err := d.creds(ctx, req.Namespace, credentials.TypeGit, string(sub.RepoURL))
			if err != nil {
				return err
			}
			if !req.ChangedAt.IsZero() {
				d.Git.InvalidateBefore(string(sub.RepoURL), req.ChangedAt)
			}
			found, err := d.Git.Discover(ctx, sub, creds, limit(sub.DiscoveryLimit, req.Limit), req.MaxAge)
			if err != nil {
				return err
			}
			if len(found) == 0 {
				return fmt.Errorf("no commits found")
			}
			commits[i] = &found[0]
			allCommits[i] = bounded(found)
			return nil
		})
		slot++
	}
	for i, sub := range subs.Images {
		run(slot, "image "+string(sub.RepoURL), func() error {
			creds, err := d.creds(ctx, req.Namespace, credentials.TypeImage, string(sub.RepoURL))
			if err != nil {
				return err
			}
			found, err := d.Images.Discover(ctx, sub, creds, limit(sub.DiscoveryLimit, req.Limit))
			if err != nil {
				return err
			}
			if len(found) == 0 {
				return fmt.Errorf("no images found")
			}
			images[i] = &found[0]
			allImages[i] = bounded(found)
			return nil
		})
		slot++
	}
	for i, sub := range subs.Charts {
		name := "chart " + string(sub.RepoURL)
		if sub.Name != "" {
			name += " " + sub.Name
		}
		run(slot, name, func() error {
			creds, err := d.creds(ctx, req.Namespace, credentials.TypeHelm, string(sub.RepoURL))
			if err != nil {
				return err
			}
			found, err := d.Charts.Discover(ctx, sub, creds, limit(sub.DiscoveryLimit, req.Limit))
			if err != nil {
				return err
			}
			if len(found) == 0 {
				return fmt.Errorf("no chart versions found")
			}
			charts[i] = &found[0]
			allCharts[i] = bounded(found)
			return nil
		})
		slot++
	}
	wg.Wait()

	var res Result
	for _, c := range commits {
		if c != nil {
			res.Commits = append(res.Commits, *c)
		}
	}
	for _, i := range images {
		if i != nil {
			res.Images = append(res.Images, *i)
		}
	}
	for _, c := range charts {
		if c != nil {
			res.Charts = append(res.Charts, *c)
		}
	}
	for _, f := range failures {
		if f != nil {
			res.Failures = append(res.Failures, *f)
		}
	}
	for _, c := range allCommits {
		res.Candidates.Commits = append(res.Candidates.Commits, c...)
	}
	for _, i := range allImages {
		res.Candidates.Images = append(res.Candidates.Images, i...)
	}
	for _, c := range allCharts {
		res.Candidates.Charts = append(res.Candidates.Charts, c...)
	}
	observe(req, start, res)
	return res
}

// bounded copies the newest kargoapi.MaxDiscoveredPerSubscription of found.
func bounded[T any](found []T) []T {
	return append([]T(nil), found[:min(len(found), kargoapi.MaxDiscoveredPerSubscription)]...)
}

func (d *Discoverer) creds(ctx context.Context, ns string, t credentials.Type, url string) (*credentials.Credentials, error) {
	if d.Credentials == nil {
		return nil, nil
	}
	return d.Credentials.Get(ctx, ns, t, url)
}

// limit is a subscription's own discoveryLimit when it has one, else the
// subscriber's.
func limit(own int32, subscriber int) int {
	if own > 0 {
		return int(own)
	}
	return subscriber
}
