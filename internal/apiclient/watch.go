package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kargohq/kargo/internal/apitypes"
)

// WatchError is the Type of the last event of a watch that broke or that
// the server ended because the caller may no longer watch: its Object is a
// metav1.Status saying why. Kubernetes watches end the same way.
const WatchError = apitypes.WatchError

// Watch streams the changes to the objects of kind in project as the server
// sees them: every current object as ADDED, then each change. The channel is
// closed when ctx ends, when the server ends the stream, or after a
// WatchError event when the stream broke or the caller's rights were
// revoked. The error is for the request itself (an *Error for a refusal
// such as 403).
//
// The server ends every watch after a while (its lifetime, so that rights
// are checked afresh); Watch then opens a new one and passes on only what
// changed meanwhile: objects it replays unchanged are not sent again, and
// objects gone meanwhile are sent as DELETED. Callers see one watch.
func (c *Client) Watch(ctx context.Context, kind Kind, project string) (<-chan apitypes.WatchEvent, error) {
	body, err := c.openWatch(ctx, kind, project)
	if err != nil {
		return nil, err
	}
	events := make(chan apitypes.WatchEvent)
	go func() {
		defer close(events)
		send := func(ev apitypes.WatchEvent) bool {
			select {
			case events <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		st := &watchState{known: map[string]knownObject{}, send: send}
		for {
			reconnect, err := st.read(body)
			body.Close()
			// A cancelled context breaks the read too; that is the
			// caller leaving, not the stream failing.
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				send(errorEvent(fmt.Errorf("watch %s: %w", kind, err)))
				return
			}
			if !reconnect {
				return
			}
			if body, err = c.openWatch(ctx, kind, project); err != nil {
				if ctx.Err() == nil {
					send(errorEvent(fmt.Errorf("watch %s again after the server ended the last watch: %w", kind, err)))
				}
				return
			}
			st.resync()
		}
	}()
	return events, nil
}

// openWatch opens one event stream.
func (c *Client) openWatch(ctx context.Context, kind Kind, project string) (io.ReadCloser, error) {
	req, err := c.newRequest(ctx, http.MethodGet, c.kindPath(kind, project), url.Values{"watch": {"true"}}, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach the kargo API server: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, errorFromResponse(resp)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		return nil, fmt.Errorf("watch %s: the server answered %q instead of an event stream", kind, mt)
	}
	return resp.Body, nil
}

// knownObject is what a watch last passed on about an object.
type knownObject struct {
	resourceVersion string
	object          json.RawMessage
}

// watchState turns the streams of one Watch into one: it remembers what it
// passed on, so that the replay a new stream starts with sends only what
// changed.
type watchState struct {
	known map[string]knownObject
	send  func(apitypes.WatchEvent) bool
	// replayed holds the objects a new stream replayed so far; nil when
	// not replaying (the first stream is passed on as it comes).
	replayed map[string]bool
}

func (st *watchState) resync() { st.replayed = map[string]bool{} }

// read passes on the events of one stream until it ends; reconnect says
// that the server asked for a new one.
func (st *watchState) read(body io.Reader) (reconnect bool, err error) {
	err = ReadEvents(body, func(ev apitypes.WatchEvent) bool {
		switch ev.Type {
		case apitypes.WatchReconnect:
			reconnect = true
			return false
		case apitypes.WatchSynced:
			if st.replayed != nil {
				for name, k := range st.known {
					if !st.replayed[name] {
						delete(st.known, name)
						if !st.send(apitypes.WatchEvent{Type: eventDeleted, Object: k.object}) {
							return false
						}
					}
				}
				st.replayed = nil
			}
			return true
		case WatchError:
			return st.send(ev)
		}
		return st.object(ev)
	})
	return reconnect, err
}

// Object event types, as Kubernetes names them.
const (
	eventAdded    = "ADDED"
	eventModified = "MODIFIED"
	eventDeleted  = "DELETED"
)

// object passes on an event about an object, unless it replays what was
// passed on before.
func (st *watchState) object(ev apitypes.WatchEvent) bool {
	var meta struct {
		Metadata struct {
			Name            string `json:"name"`
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if json.Unmarshal(ev.Object, &meta) != nil || meta.Metadata.Name == "" {
		return st.send(ev) // not an object this state can follow
	}
	name, version := meta.Metadata.Name, meta.Metadata.ResourceVersion
	if ev.Type == eventDeleted {
		delete(st.known, name)
		return st.send(ev)
	}
	had, known := st.known[name]
	st.known[name] = knownObject{resourceVersion: version, object: ev.Object}
	if st.replayed != nil && ev.Type == eventAdded {
		st.replayed[name] = true
		switch {
		case known && had.resourceVersion == version && version != "":
			return true // unchanged since the last stream
		case known:
			ev.Type = eventModified
		}
	}
	return st.send(ev)
}

// ReadEvents parses a text/event-stream whose events each carry one
// apitypes.WatchEvent as data, and calls emit with each until emit returns
// false or the stream ends. An event whose data is a metav1.Status rather
// than a WatchEvent becomes a WatchError event. It returns nil when the
// stream ends cleanly.
func ReadEvents(r io.Reader, emit func(apitypes.WatchEvent) bool) error {
	br := bufio.NewReader(r)
	var data strings.Builder
	dispatch := func() (bool, error) {
		if data.Len() == 0 {
			return true, nil
		}
		payload := strings.TrimSuffix(data.String(), "\n")
		data.Reset()
		ev, err := decodeEvent(payload)
		if err != nil {
			return false, err
		}
		return emit(ev), nil
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read event stream: %w", err)
		}
		atEOF := err != nil
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case line == "":
			// A blank line ends an event; at the end of the stream, an
			// event not followed by one is still delivered, because
			// losing the last change would be worse than a lax server.
			ok, err := dispatch()
			if err != nil || !ok {
				return err
			}
		case strings.HasPrefix(line, ":"):
			// A comment: servers send them to keep idle connections open.
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			if field == "data" {
				data.WriteString(value)
				data.WriteByte('\n')
			}
			// event:, id: and retry: carry nothing the contract uses.
		}
		if atEOF {
			_, err := dispatch()
			return err
		}
	}
}

func decodeEvent(payload string) (apitypes.WatchEvent, error) {
	var probe struct {
		Type string `json:"type"`
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal([]byte(payload), &probe); err != nil {
		return apitypes.WatchEvent{}, fmt.Errorf("decode event %q: %w", abbreviate(payload), err)
	}
	if probe.Type == "" && probe.Kind == "Status" {
		return apitypes.WatchEvent{Type: WatchError, Object: json.RawMessage(payload)}, nil
	}
	var ev apitypes.WatchEvent
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		return apitypes.WatchEvent{}, fmt.Errorf("decode event %q: %w", abbreviate(payload), err)
	}
	if ev.Type == "" {
		return apitypes.WatchEvent{}, fmt.Errorf("decode event %q: it has no type", abbreviate(payload))
	}
	return ev, nil
}

// EventError returns the error a WatchError event carries, or nil for any
// other event.
func EventError(ev apitypes.WatchEvent) error {
	if ev.Type != WatchError {
		return nil
	}
	var s metav1.Status
	if err := json.Unmarshal(ev.Object, &s); err != nil || s.Message == "" {
		return &Error{Status: metav1.Status{Status: metav1.StatusFailure, Message: "the watch ended with an error the server did not explain"}}
	}
	return &Error{Status: s}
}

func errorEvent(err error) apitypes.WatchEvent {
	status := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  err.Error(),
	}
	// A refusal keeps its code and reason, for IsForbidden and the like.
	var apiErr *Error
	if errors.As(err, &apiErr) {
		status.Code, status.Reason, status.Details = apiErr.Status.Code, apiErr.Status.Reason, apiErr.Status.Details
	}
	b, _ := json.Marshal(status)
	return apitypes.WatchEvent{Type: WatchError, Object: b}
}

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
