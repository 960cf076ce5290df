package apiclient_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
)

func TestReadEvents(t *testing.T) {
	obj := `{"metadata":{"name":"a"}}`
	tests := []struct {
		name   string
		stream string
		want   []string // type and object of each event
		err    string
	}{{
		name:   "one data line per event",
		stream: "data: {\"type\":\"ADDED\",\"object\":" + obj + "}\n\ndata: {\"type\":\"DELETED\",\"object\":" + obj + "}\n\n",
		want:   []string{"ADDED " + obj, "DELETED " + obj},
	}, {
		name: "comments, other fields and CRLF are skipped",
		stream: ": keep-alive\r\n\r\nevent: change\r\nid: 7\r\ndata:{\"type\":\"MODIFIED\",\"object\":" + obj + "}\r\n\r\n" +
			"data: {\"type\":\"DELETED\",\"object\":" + obj + "}\r\n\r\n",
		want: []string{"MODIFIED " + obj, "DELETED " + obj},
	}, {
		name:   "data split over lines is joined",
		stream: "data: {\"type\":\"ADDED\",\ndata: \"object\":" + obj + "}\n\n",
		want:   []string{"ADDED " + obj},
	}, {
		name:   "the last event needs no blank line",
		stream: "data: {\"type\":\"ADDED\",\"object\":" + obj + "}\n",
		want:   []string{"ADDED " + obj},
	}, {
		name:   "a Status becomes an ERROR event",
		stream: "data: {\"kind\":\"Status\",\"message\":\"too old\"}\n\n",
		want:   []string{`ERROR {"kind":"Status","message":"too old"}`},
	}, {
		name:   "data that is not JSON breaks the stream",
		stream: "data: {\"type\":\"ADDED\",\"object\":" + obj + "}\n\ndata: <html>\n\n",
		want:   []string{"ADDED " + obj},
		err:    `decode event "<html>"`,
	}, {
		name:   "an event without a type breaks the stream",
		stream: "data: {\"object\":{}}\n\n",
		err:    "it has no type",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := apiclient.ReadEvents(strings.NewReader(tt.stream), func(ev apitypes.WatchEvent) bool {
				got = append(got, ev.Type+" "+string(ev.Object))
				return true
			})
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestReadEventsStopsWhenTheCallerDoes(t *testing.T) {
	stream := strings.Repeat("data: {\"type\":\"ADDED\",\"object\":{}}\n\n", 3)
	n := 0
	require.NoError(t, apiclient.ReadEvents(strings.NewReader(stream), func(apitypes.WatchEvent) bool {
		n++
		return false
	}))
	require.Equal(t, 1, n)
}

// TestWatchStreamsChanges watches Stages of one project while they are
// created, reconciled and changed, and one of another project is created.
func TestWatchStreamsChanges(t *testing.T) {
	p := newProject(t)
	other := p + "-other"
	env.CreateProject(t, other)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := newClient(t, admin).Watch(ctx, apiclient.Stages, p)
	require.NoError(t, err)

	create(t, stage(other, "ignored"), stage(p, "test"))
	ev := nextWhere(t, events, "the Stage is added", func(apitypes.WatchEvent) bool { return true })
	require.Equal(t, "ADDED", ev.Type)
	require.Equal(t, "test", decodeStage(t, ev).Name, "only the watched project's Stages")

	st := &kargoapi.Stage{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: p, Name: "test"}, st))
	patch := client.MergeFrom(st.DeepCopy())
	st.Annotations = map[string]string{"example.com/note": "changed"}
	require.NoError(t, env.Admin.Patch(ctx, st, patch))
	ev = nextWhere(t, events, "the change is streamed", func(ev apitypes.WatchEvent) bool {
		return decodeStage(t, ev).Annotations["example.com/note"] == "changed"
	})
	require.Equal(t, "MODIFIED", ev.Type)

	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			require.NotEqual(t, apiclient.WatchError, ev.Type, "leaving is not an error: %s", ev.Object)
		case <-deadline:
			t.Fatal("the channel was not closed after the context ended")
		}
	}
}

// TestWatchEndsWithAnErrorEventWhenTheConnectionBreaks cuts the
// connection of a watch of the real server under the client's feet.
func TestWatchEndsWithAnErrorEventWhenTheConnectionBreaks(t *testing.T) {
	p := newProject(t)
	create(t, stage(p, "test"))
	var mu sync.Mutex
	var conns []net.Conn
	dialer := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}}
	c := newClient(t, admin, apiclient.WithHTTPClient(&http.Client{Transport: tr}))
	events, err := c.Watch(context.Background(), apiclient.Stages, p)
	require.NoError(t, err)
	require.Equal(t, "ADDED", nextWhere(t, events, "the Stage is listed", func(apitypes.WatchEvent) bool { return true }).Type)

	mu.Lock()
	for _, conn := range conns {
		require.NoError(t, conn.Close())
	}
	mu.Unlock()
	// The Stage controller writes the new Stage's status, so a MODIFIED
	// event may already be on its way when the connection is cut; what
	// matters is that the stream ends with an ERROR event.
	ev := nextWhere(t, events, "the break is reported", func(ev apitypes.WatchEvent) bool {
		return ev.Type == apiclient.WatchError
	})
	require.ErrorContains(t, apiclient.EventError(ev), "watch stages: read event stream")
	_, ok := <-events
	require.False(t, ok, "nothing after the error")
}

// TestWatchEndsWhenTheServerStops: a server that shuts down ends its
// watches cleanly; the channel closes without an error event, which is
// how callers (kargo get -w) tell that the server ended the watch.
func TestWatchEndsWhenTheServerStops(t *testing.T) {
	p := newProject(t)
	create(t, stage(p, "test"))
	srv, err := apiserver.Start(env, server.Options{})
	require.NoError(t, err)
	c, err := apiclient.New(srv.URL, kubetest.Token(admin))
	require.NoError(t, err)
	events, err := c.Watch(context.Background(), apiclient.Stages, p)
	require.NoError(t, err)
	require.Equal(t, "ADDED", nextWhere(t, events, "the Stage is listed", func(apitypes.WatchEvent) bool { return true }).Type)

	require.NoError(t, srv.Stop())
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			require.NotEqual(t, apiclient.WatchError, ev.Type, "a clean end: %s", ev.Object)
		case <-deadline:
			t.Fatal("the watch did not end with the server")
		}
	}
}

func TestWatchRefusals(t *testing.T) {
	p := newProject(t)
	_, err := newClient(t, nobody).Watch(context.Background(), apiclient.Stages, p)
	require.True(t, apiclient.IsForbidden(err), "%v", err)
	require.ErrorContains(t, err, `user "nobody" may not watch stages.kargo.akuity.io in project "`+p+`"`)

	// A proxy that drops query strings turns the watch into a list: the
	// real server answers JSON, which the client refuses to read as
	// events.
	strip := newInterceptor()
	strip.request = func(r *http.Request) error {
		r.URL.RawQuery = ""
		return nil
	}
	_, err = strip.client(t, admin).Watch(context.Background(), apiclient.Freight, p)
	require.ErrorContains(t, err, `answered "application/json" instead of an event stream`)
}

func TestEventErrorOfOtherEventsIsNil(t *testing.T) {
	require.NoError(t, apiclient.EventError(apitypes.WatchEvent{Type: "ADDED"}))
	require.EqualError(t, apiclient.EventError(apitypes.WatchEvent{Type: apiclient.WatchError, Object: json.RawMessage(`{}`)}),
		"the watch ended with an error the server did not explain")
}

// nextWhere returns the next event that satisfies match, failing the test
// when the watch ends or none comes within 30 seconds.
func nextWhere(t *testing.T, events <-chan apitypes.WatchEvent, what string, match func(apitypes.WatchEvent) bool) apitypes.WatchEvent {
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
			t.Fatalf("%s: no such event within 30s", what)
		}
	}
}

func decodeStage(t *testing.T, ev apitypes.WatchEvent) *kargoapi.Stage {
	t.Helper()
	st := &kargoapi.Stage{}
	require.NoError(t, json.Unmarshal(ev.Object, st), "%s", ev.Object)
	return st
}

// gatedTransport holds the second and later watch requests until the test
// lets them through, so that changes can be made while a client is
// between two streams of one watch.
type gatedTransport struct {
	watches     int
	mu          sync.Mutex
	reconnected chan struct{}
	proceed     chan struct{}
}

func (g *gatedTransport) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.watches
}

func (g *gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Query().Get("watch") == "true" {
		g.mu.Lock()
		g.watches++
		n := g.watches
		g.mu.Unlock()
		if n == 2 {
			close(g.reconnected)
			<-g.proceed
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestWatchReconnectsWhenTheServerEndsIt: a server ends each watch after
// its lifetime; the client opens a new one and passes on only what changed
// in between, so that its caller sees one watch: no object added twice,
// and an object deleted between the two streams reported as DELETED.
func TestWatchReconnectsWhenTheServerEndsIt(t *testing.T) {
	p := newProject(t)
	create(t, stage(p, "kept"), stage(p, "gone"))
	srv, err := apiserver.Start(env, server.Options{WatchLifetime: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	gate := &gatedTransport{reconnected: make(chan struct{}), proceed: make(chan struct{})}
	c, err := apiclient.New(srv.URL, kubetest.Token(admin), apiclient.WithHTTPClient(&http.Client{Transport: gate}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := c.Watch(ctx, apiclient.Stages, p)
	require.NoError(t, err)

	added := map[string]int{}
	record := func(ev apitypes.WatchEvent) {
		require.NotEqual(t, apiclient.WatchError, ev.Type, string(ev.Object))
		require.Contains(t, []string{"ADDED", "MODIFIED", "DELETED"}, ev.Type, "stream events stay inside the client")
		if ev.Type == "ADDED" {
			name := decodeStage(t, ev).Name
			added[name]++
			require.Equal(t, 1, added[name], "Stage %s added twice", name)
		}
	}
	nextWhere(t, events, "both Stages are listed", func(ev apitypes.WatchEvent) bool {
		record(ev)
		return added["kept"] == 1 && added["gone"] == 1
	})
	select {
	case <-gate.reconnected:
	case <-time.After(30 * time.Second):
		t.Fatal("the client did not open a new watch after the server ended the first")
	}
	require.NoError(t, env.Admin.Delete(ctx, stage(p, "gone")))
	close(gate.proceed)
	nextWhere(t, events, "the Stage deleted between the streams is reported", func(ev apitypes.WatchEvent) bool {
		record(ev)
		return ev.Type == "DELETED" && decodeStage(t, ev).Name == "gone"
	})

	// Later changes still arrive, across further ends of the server's
	// watches.
	deadline := time.After(30 * time.Second)
	for gate.count() < 4 {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "the watch ended")
			record(ev)
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("the client opened %d watches in 30s, not 4", gate.count())
		}
	}
	create(t, stage(p, "late"))
	nextWhere(t, events, "a Stage created after several reconnects", func(ev apitypes.WatchEvent) bool {
		record(ev)
		return ev.Type == "ADDED" && decodeStage(t, ev).Name == "late"
	})
}
