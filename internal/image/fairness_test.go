package image_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/image"
	"github.com/kargohq/kargo/internal/image/throttle"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

const greedyTags = 2000

// pushGreedy gives repo 2,000 tags, enough to keep a NewestBuild discovery
// busy for many seconds at any reasonable rate.
func pushGreedy(t *testing.T, reg *registry.Registry, repo string) {
	t.Helper()
	reg.PushImage(t, repo, "seed", registry.Image{})
	tags := make([]string, greedyTags)
	for i := range tags {
		tags[i] = fmt.Sprintf("build-%05d", i)
	}
	reg.Tag(t, repo, "seed", tags...)
}

// startGreedy runs a NewestBuild discovery of repo until the test cancels it
// and returns a channel that is closed when it has returned.
func startGreedy(t *testing.T, client *image.Client, reg *registry.Registry, repo string) (cancel func(), done <-chan struct{}) {
	t.Helper()
	ctx, cancelCtx := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		_, _ = client.Discover(ctx, sub(reg, repo, func(s *kargoapi.ImageSubscription) {
			s.ImageSelectionStrategy = kargoapi.ImageSelectionNewestBuild
		}), nil, 1)
	}()
	t.Cleanup(func() {
		cancelCtx()
		<-finished
	})
	return cancelCtx, finished
}

func headsIn(repo string) func(registry.Request) bool {
	return func(r registry.Request) bool {
		return r.Repo == repo && r.Method == http.MethodHead
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGreedySubscriptionDoesNotBlockAnotherHost(t *testing.T) {
	busy := registry.New(t, registry.Options{})
	pushGreedy(t, busy, "greedy")
	quiet := registry.New(t, registry.Options{})
	want := quiet.PushImage(t, "app", "1.0.0", registry.Image{})

	// After its burst of 40, a host gets one request every 1,000 s: the
	// greedy discovery stalls on its host for the rest of the test, and the
	// other discovery can only finish if its host has a budget of its own.
	const burst = 40
	client := newClient(busy, image.Options{
		Egress:           allowing(busy, quiet),
		Throttle:         throttle.New(throttle.Options{PerHostRate: 0.001, Burst: burst}),
		MaxTagsInspected: greedyTags + 10,
	})
	_, greedyDone := startGreedy(t, client, busy, "greedy")
	waitFor(t, "the greedy discovery has spent its host's burst", func() bool {
		return busy.Count(nil) >= burst-2
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := client.Discover(ctx, sub(quiet, "app", nil), nil, 1)
	require.NoError(t, err)
	require.Equal(t, want, got[0].Digest)
	select {
	case <-greedyDone:
		t.Fatal("the greedy discovery finished; it should still be waiting for its host")
	default:
	}
}

func TestGreedySubscriptionSharesAHostFairly(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	pushGreedy(t, reg, "greedy")
	want := reg.PushImage(t, "small", "1.0.0", registry.Image{})

	const concurrency = 16
	client := newClient(reg, image.Options{
		PerHostRate:      200,
		Burst:            1,
		Concurrency:      concurrency,
		MaxTagsInspected: greedyTags + 10,
	})
	startGreedy(t, client, reg, "greedy")
	waitFor(t, "the greedy discovery is inspecting tags", func() bool {
		return reg.Count(headsIn("greedy")) >= 20
	})

	before := reg.Count(registry.InRepo("greedy"))
	got, err := client.Discover(context.Background(), sub(reg, "small", nil), nil, 1)
	require.NoError(t, err)
	require.Equal(t, want, got[0].Digest)
	greedyServed := reg.Count(registry.InRepo("greedy")) - before
	require.Less(t, reg.Count(headsIn("greedy")), greedyTags, "the greedy discovery must still be running for this test to mean anything")

	// The small discovery takes 4 turns (a TLS probe, the ping, the tag
	// list, one HEAD). Round-robin lets the greedy one take at most one turn
	// before each, plus whatever it had already been granted when the small
	// one arrived (at most its concurrency). First-come-first-served would
	// put every small request behind all 16 queued greedy ones.
	const smallTurns = 4
	require.LessOrEqual(t, greedyServed, smallTurns+concurrency+2,
		"greedy requests served while the small discovery ran")
}
