package throttle

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/kargohq/kargo/internal/sourceerr"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestRetryAt(t *testing.T) {
	clock := newClock()
	th := New(Options{Now: clock.Now, MaxRetryAfter: time.Hour})
	tests := []struct {
		header string
		want   time.Duration
	}{
		{header: "120", want: 2 * time.Minute},
		{header: "", want: DefaultRetryAfter},
		{header: "soon", want: DefaultRetryAfter},
		{header: "0", want: time.Second},
		{header: "-5", want: DefaultRetryAfter},
		{header: "999999", want: time.Hour},
		{header: clock.Now().Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second},
		{header: clock.Now().Add(-time.Hour).Format(http.TimeFormat), want: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			require.Equal(t, clock.Now().Add(tt.want), th.retryAt(tt.header))
		})
	}
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportBacksOffAfter429(t *testing.T) {
	clock := newClock()
	th := New(Options{PerHostRate: rate.Inf, Now: clock.Now})
	var calls atomic.Int32
	status := http.StatusTooManyRequests
	rt := th.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return &http.Response{
			StatusCode: status,
			Header:     http.Header{"Retry-After": {"30"}},
			Body:       io.NopCloser(strings.NewReader("")),
			Request:    r,
		}, nil
	}))
	get := func() (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, "https://registry.example/v2/", nil)
		require.NoError(t, err)
		return rt.RoundTrip(req)
	}

	resp, err := get()
	require.NoError(t, err, "the 429 itself is passed on for the caller to classify")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)

	_, err = get()
	var rl *sourceerr.RateLimitedError
	require.ErrorAs(t, err, &rl)
	require.Equal(t, "registry.example", rl.Host)
	require.Equal(t, clock.Now().Add(30*time.Second), rl.RetryAfter)
	require.EqualValues(t, 1, calls.Load(), "a backing-off host is not contacted")

	until, blocked := th.BlockedUntil("registry.example")
	require.True(t, blocked)
	require.Equal(t, rl.RetryAfter, until)
	_, blocked = th.BlockedUntil("other.example")
	require.False(t, blocked, "back-off is per host")

	clock.Advance(31 * time.Second)
	status = http.StatusOK
	resp, err = get()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.EqualValues(t, 2, calls.Load())
}

func TestFlowsShareAHostRoundRobin(t *testing.T) {
	th := New(Options{PerHostRate: 500, Burst: 1})
	const host = "registry.example"
	greedyCtx, cancelGreedy := context.WithCancel(WithFlow(context.Background()))
	defer cancelGreedy()

	var greedyGranted atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if th.Wait(greedyCtx, host) == nil {
				greedyGranted.Add(1)
			}
		}()
	}
	for greedyGranted.Load() < 5 {
		time.Sleep(time.Millisecond)
	}

	small := WithFlow(context.Background())
	before := greedyGranted.Load()
	for range 5 {
		require.NoError(t, th.Wait(small, host))
	}
	served := greedyGranted.Load() - before
	cancelGreedy()
	wg.Wait()

	// One greedy turn before each small one, plus scheduling slack; a
	// first-come-first-served queue would serve all ~195 queued first.
	require.LessOrEqual(t, served, int32(5+3))
}

func TestHostsHaveTheirOwnBudget(t *testing.T) {
	// After the burst, a token every 1,000 s: a waiter on the drained host
	// stays queued for the whole test.
	th := New(Options{PerHostRate: 0.001, Burst: 2})
	busy := WithFlow(context.Background())
	require.NoError(t, th.Wait(busy, "busy.example"))
	require.NoError(t, th.Wait(busy, "busy.example"))

	queuedCtx, cancel := context.WithCancel(busy)
	queued := make(chan error, 1)
	go func() { queued <- th.Wait(queuedCtx, "busy.example") }()

	ctx, cancelOther := context.WithTimeout(WithFlow(context.Background()), 10*time.Second)
	defer cancelOther()
	require.NoError(t, th.Wait(ctx, "quiet.example"))

	select {
	case err := <-queued:
		t.Fatalf("the drained host served a request: %v", err)
	default:
	}
	cancel()
	err := <-queued
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func TestQueuedRequestsFailWhenTheHostStartsBackingOff(t *testing.T) {
	clock := newClock()
	th := New(Options{PerHostRate: 0.001, Burst: 1, Now: clock.Now})
	ctx := WithFlow(context.Background())
	require.NoError(t, th.Wait(ctx, "registry.example"))

	queued := make(chan error, 1)
	go func() { queued <- th.Wait(ctx, "registry.example") }()
	g := th.gate("registry.example")
	for {
		g.mu.Lock()
		n := g.queued
		g.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// The dispatcher is waiting ~1,000 s for the next token; the back-off
	// must fail the queued request now, not then.
	th.Block("registry.example", clock.Now().Add(time.Minute))
	var rl *sourceerr.RateLimitedError
	select {
	case err := <-queued:
		require.ErrorAs(t, err, &rl)
	case <-time.After(10 * time.Second):
		t.Fatal("a queued request was not released by the back-off")
	}
}

func TestWithFlowKeepsAnExistingFlow(t *testing.T) {
	outer := WithFlow(context.Background())
	require.Equal(t, flowOf(outer), flowOf(WithFlow(outer)))
	require.NotEqual(t, flowOf(outer), flowOf(WithFlow(context.Background())))
}
