package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kargohq/kargo/internal/apiclient"
)

// notFoundGrace is how long a followed object may read as not found: a
// server that reads through a cache may not have the Promotion it just
// created yet.
const notFoundGrace = 10 * time.Second

// follow calls check with the object of kind named name each time it may
// have changed, until check says it is done, returns an error, or ctx ends.
// It watches the kind for prompt news and, because a watch can miss a
// change, end, or be refused, also reads the object every g.pollInterval.
// tick, when given, is called every second in between, to redraw a
// progress line.
func (g *globals) follow(ctx context.Context, c *apiclient.Client, kind apiclient.Kind, project, name string,
	check func(json.RawMessage) (bool, error), tick func()) error {
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	events, err := c.Watch(watchCtx, kind, project)
	if err != nil {
		// Polling alone still gets there; the read below reports any
		// error that matters, such as a revoked token.
		events = nil
	}
	started := time.Now()
	// The read and the watch come by different paths, so the watch may
	// deliver a version older than one already read (its replay of the
	// server's cache): check sees each version once, in order.
	var seen uint64
	checkNewer := func(raw json.RawMessage) (bool, error) {
		var meta struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if json.Unmarshal(raw, &meta) == nil {
			// Resource versions are opaque to clients, but etcd's are
			// increasing integers; anything else is taken as news.
			if rv, err := strconv.ParseUint(meta.Metadata.ResourceVersion, 10, 64); err == nil {
				if rv <= seen {
					return false, nil
				}
				seen = rv
			}
		}
		return check(raw)
	}
	get := func() (bool, error) {
		raw, err := c.Get(ctx, kind, project, name)
		if apiclient.IsNotFound(err) && time.Since(started) < notFoundGrace {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return checkNewer(raw)
	}
	if done, err := get(); done || err != nil {
		return err
	}
	poll := time.NewTicker(g.pollInterval)
	defer poll.Stop()
	var ticks <-chan time.Time
	if tick != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		ticks = t.C
	}
	for {
		var done bool
		var err error
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-events:
			if !ok || ev.Type == apiclient.WatchError {
				events = nil
				continue
			}
			var meta struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if json.Unmarshal(ev.Object, &meta) != nil || meta.Metadata.Name != name {
				continue
			}
			if ev.Type == "DELETED" {
				// Read it again so that the error is the server's.
				done, err = get()
			} else {
				done, err = checkNewer(ev.Object)
			}
		case <-poll.C:
			done, err = get()
		case <-ticks:
			tick()
		}
		if done || err != nil {
			return err
		}
	}
}

// withTimeout bounds a wait by --timeout (zero: no bound).
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}

// waitError explains a wait that ended without an answer.
func waitError(err error, timeout time.Duration, what string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: still not done after --timeout %s", what, timeout)
	}
	return err
}
