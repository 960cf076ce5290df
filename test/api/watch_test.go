package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// watchedEvent is an event as a client decodes it.
type watchedEvent struct {
	Type   string
	Object kargoapi.Freight
}

// openWatch starts a watch as user and returns its events; the watch ends
// with the test.
func openWatch(t *testing.T, user, path string) <-chan watchedEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+kubetest.Token(user))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	events := make(chan watchedEvent, 64)
	go func() {
		defer resp.Body.Close()
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue // blank separators and heartbeat comments
			}
			var ev apitypes.WatchEvent
			if json.Unmarshal([]byte(data), &ev) != nil {
				return
			}
			// Events about the stream itself (SYNCED, RECONNECT) carry
			// no object.
			var f kargoapi.Freight
			if len(ev.Object) > 0 && json.Unmarshal(ev.Object, &f) != nil {
				return
			}
			select {
			case events <- watchedEvent{Type: ev.Type, Object: f}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return events
}

// next returns the next event that satisfies match, failing the test
// after 30 seconds without one.
func next(t *testing.T, events <-chan watchedEvent, what string, match func(watchedEvent) bool) watchedEvent {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "the watch ended before %s", what)
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s within 30s", what)
		}
	}
}

// TestWatchFreight: a watch starts with every Freight of the project as
// ADDED, then reports new Freight and alias changes.
func TestWatchFreight(t *testing.T) {
	ns := env.NewProject(t, "watch")
	existing := map[string]bool{}
	for _, tag := range []string{"one", "two"} {
		existing[createFreight(t, ns, tag).Name] = true
	}
	waitForFreight(t, ns, 2)
	// Freight elsewhere is not this watch's business.
	elsewhere := env.NewProject(t, "watch-elsewhere")
	createFreight(t, elsewhere, "elsewhere")

	events := openWatch(t, admin, "/api/v1/projects/"+ns+"/freight?watch=true")
	for len(existing) > 0 {
		ev := next(t, events, "ADDED for the existing Freight", func(watchedEvent) bool { return true })
		require.Equal(t, "ADDED", ev.Type)
		require.Equal(t, ns, ev.Object.Namespace)
		require.True(t, existing[ev.Object.Name], "unexpected Freight %s", ev.Object.Name)
		delete(existing, ev.Object.Name)
	}
	ev := next(t, events, "SYNCED after the existing Freight", func(watchedEvent) bool { return true })
	require.Equal(t, "SYNCED", ev.Type, "the replay of the existing Freight ends with SYNCED")

	added := createFreight(t, ns, "three")
	ev = next(t, events, "ADDED for the new Freight", func(ev watchedEvent) bool { return ev.Object.Name == added.Name })
	require.Equal(t, "ADDED", ev.Type)

	stored := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(added), stored))
	stored.Alias = "watched-alias"
	require.NoError(t, env.Admin.Update(context.Background(), stored))
	ev = next(t, events, "MODIFIED with the alias", func(ev watchedEvent) bool {
		return ev.Object.Name == added.Name && ev.Type == "MODIFIED" && ev.Object.Alias == "watched-alias"
	})
	require.Equal(t, "watched-alias", ev.Object.Labels[kargoapi.AliasLabelKey])
}

// TestWatchNeedsTheWatchVerb: bob may list Promotions (his Role has watch
// too) but nothing else, and a watch is authorized like a list.
func TestWatchNeedsTheWatchVerb(t *testing.T) {
	kargoDemo(t)
	refusal(t, call(t, bob, http.MethodGet, "/api/v1/projects/"+demo+"/freight?watch=true", nil), http.StatusForbidden)
	events := openWatch(t, bob, "/api/v1/projects/"+demo+"/promotions?watch=true")
	require.NotNil(t, events)
}

// TestWatchStartsWithEveryObject: a project larger than one write of
// events still starts with each of its Freight once.
func TestWatchStartsWithEveryObject(t *testing.T) {
	const n = 1200
	ns := env.NewProject(t, "watch-many")
	createMany(t, n, func(i int) *kargoapi.Freight {
		return objects.Freight(ns, objects.Image("registry.example.com/app", fmt.Sprintf("many-%d", i)))
	})
	waitForFreight(t, ns, n)
	events := openWatch(t, admin, "/api/v1/projects/"+ns+"/freight?watch=true")
	seen := map[string]bool{}
	for len(seen) < n {
		ev := next(t, events, fmt.Sprintf("ADDED %d of %d", len(seen)+1, n), func(watchedEvent) bool { return true })
		require.Equal(t, "ADDED", ev.Type)
		require.False(t, seen[ev.Object.Name], "Freight %s twice", ev.Object.Name)
		seen[ev.Object.Name] = true
	}
}
