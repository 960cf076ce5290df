package discovery

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/sourceerr"
)

func TestSummarize(t *testing.T) {
	later := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	unreachable := Failure{Subscription: "git https://git.example/a.git", Err: fmt.Errorf("ls-remote: %w", sourceerr.ErrUnreachable)}
	invalid := Failure{Subscription: "image nginx", Err: fmt.Errorf("allowTags: %w", sourceerr.ErrInvalid)}
	noMatch := Failure{Subscription: "image nginx", Err: fmt.Errorf("no tag satisfies ^9: %w", sourceerr.ErrNoMatch)}
	limited := Failure{Subscription: "image ghcr.io/x", Err: &sourceerr.RateLimitedError{Host: "ghcr.io", RetryAfter: later}}

	require.Equal(t, Summary{}, Summarize(nil))

	s := Summarize([]Failure{unreachable, invalid})
	require.True(t, s.Terminal)
	require.Equal(t, "InvalidSubscription", s.Reason)
	require.Equal(t, "Cannot discover artifacts: git https://git.example/a.git: ls-remote: unreachable; image nginx: allowTags: invalid spec", s.Message)

	s = Summarize([]Failure{unreachable, limited})
	require.Equal(t, "RateLimited", s.Reason)
	require.Equal(t, later, s.RetryAt)
	require.Contains(t, s.Message, "retrying at 2026-11-21T20:00:00Z")

	s = Summarize([]Failure{noMatch})
	require.True(t, s.NoMatch)
	require.Equal(t, "NoMatch", s.Reason)

	require.False(t, Summarize([]Failure{noMatch, unreachable}).NoMatch)
}
