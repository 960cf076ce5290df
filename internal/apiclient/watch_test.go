package apiclient_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/apiclient/apiclienttest"
	"github.com/kargohq/kargo/internal/apitypes"
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

func TestWatchStreamsChanges(t *testing.T) {
	s := apiclienttest.New(t, token)
	s.Add(project("demo"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := newClient(t, s).Watch(ctx, apiclient.Stages, "demo")
	require.NoError(t, err)
	waitFor(t, func() bool { return s.Watchers() == 1 })

	s.Add(stage("demo", "test"), stage("other", "ignored"))
	st := stage("demo", "test")
	st.Status.Phase = kargoapi.StagePhaseSteady
	s.Update(st)

	ev := next(t, events)
	require.Equal(t, "ADDED", ev.Type)
	ev = next(t, events)
	require.Equal(t, "MODIFIED", ev.Type)
	var got kargoapi.Stage
	require.NoError(t, json.Unmarshal(ev.Object, &got))
	require.Equal(t, kargoapi.StagePhaseSteady, got.Status.Phase)

	cancel()
	select {
	case ev, ok := <-events:
		require.False(t, ok, "no event after cancel, got %+v", ev)
	case <-time.After(5 * time.Second):
		t.Fatal("the channel was not closed after the context ended")
	}
}

func TestWatchEndsWithAnErrorEventWhenTheStreamBreaks(t *testing.T) {
	s := apiclienttest.New(t, token)
	s.Override("GET /api/v1/projects/demo/stages", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		fmt.Fprint(w, "data: {\"type\":\"ADDED\",\"object\":{}}\n\ndata: not json\n\n")
	})
	events, err := newClient(t, s).Watch(context.Background(), apiclient.Stages, "demo")
	require.NoError(t, err)
	require.Equal(t, "ADDED", next(t, events).Type)
	ev := next(t, events)
	require.Equal(t, apiclient.WatchError, ev.Type)
	require.ErrorContains(t, apiclient.EventError(ev), `watch stages: decode event "not json"`)
	_, ok := <-events
	require.False(t, ok)
}

func TestWatchRefusals(t *testing.T) {
	s := apiclienttest.New(t, token)
	s.Refuse("GET /api/v1/projects/demo/stages", http.StatusForbidden, "alice may not watch stages in project demo")
	_, err := newClient(t, s).Watch(context.Background(), apiclient.Stages, "demo")
	require.True(t, apiclient.IsForbidden(err), "%v", err)
	require.EqualError(t, err, "alice may not watch stages in project demo")

	s.Override("GET /api/v1/projects/demo/freight", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"FreightList","items":[]}`)
	})
	_, err = newClient(t, s).Watch(context.Background(), apiclient.Freight, "demo")
	require.ErrorContains(t, err, `answered "application/json" instead of an event stream`)
}

func TestEventErrorOfOtherEventsIsNil(t *testing.T) {
	require.NoError(t, apiclient.EventError(apitypes.WatchEvent{Type: "ADDED"}))
	require.EqualError(t, apiclient.EventError(apitypes.WatchEvent{Type: apiclient.WatchError, Object: json.RawMessage(`{}`)}),
		"the watch ended with an error the server did not explain")
}

func next(t *testing.T, events <-chan apitypes.WatchEvent) apitypes.WatchEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		require.True(t, ok, "the watch ended early")
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return apitypes.WatchEvent{}
}

// waitFor polls cond until it holds, with a deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
