package git_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
)

// clock is a fake time source that only moves when a test says so.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testEgress is the outbound address policy of the tests' caches:
// newServer allows exactly the servers it starts, while their test runs.
var testEgress = egress.New(egress.Options{})

// newServer starts a Git server that the tests' caches may reach.
func newServer(t testing.TB, opts ...gitserver.Option) *gitserver.Server {
	t.Helper()
	s := gitserver.New(t, opts...)
	t.Cleanup(testEgress.Allow(egress.MustParseRules(s.Host())...))
	return s
}

// options are opts with the tests' outbound address policy.
func options(opts git.Options) git.Options {
	if opts.Egress == nil {
		opts.Egress = testEgress
	}
	return opts
}

func newCache(t testing.TB, opts git.Options) (*git.Cache, *clock) {
	t.Helper()
	clk := newClock()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	return git.NewCache(t.TempDir(), options(opts)), clk
}

func ctx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// discover calls Discover with a maxAge long enough that a test never
// refreshes by accident.
func discover(t testing.TB, c *git.Cache, sub kargoapi.GitSubscription, creds *credentials.Credentials, limit int) ([]kargoapi.GitCommit, error) {
	t.Helper()
	return c.Discover(ctx(t), sub, creds, limit, 5*time.Minute)
}

func ids(commits []kargoapi.GitCommit) []string {
	out := make([]string, len(commits))
	for i, c := range commits {
		out[i] = c.ID
	}
	return out
}

func tags(commits []kargoapi.GitCommit) []string {
	out := make([]string, len(commits))
	for i, c := range commits {
		out[i] = c.Tag
	}
	return out
}

func mustDiscover(t testing.TB, c *git.Cache, sub kargoapi.GitSubscription, creds *credentials.Credentials, limit int) []kargoapi.GitCommit {
	t.Helper()
	commits, err := discover(t, c, sub, creds, limit)
	require.NoError(t, err)
	return commits
}
