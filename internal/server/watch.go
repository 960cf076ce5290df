package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
)

const (
	// heartbeatInterval keeps idle watches alive through proxies that
	// close silent connections.
	heartbeatInterval = 15 * time.Second
	// writeTimeout ends a watch whose client stopped reading, so that its
	// events do not pile up in memory.
	writeTimeout = 30 * time.Second
	// maxBatch bounds the events written between flushes, each flush
	// giving the client writeTimeout more.
	maxBatch = 512
)

// Watch event types, as Kubernetes names them.
const (
	eventAdded    = "ADDED"
	eventModified = "MODIFIED"
	eventDeleted  = "DELETED"
)

type watchEvent struct {
	typ string
	obj client.Object
}

// watch streams the objects of kind k in namespace as server-sent events:
// every current object as ADDED, then SYNCED, then each change, until the
// client goes away, the server stops, recheck refuses the caller (an ERROR
// event with the refusal ends the stream) or the watch reaches its lifetime
// (a RECONNECT event ends it, and the client opens a new one, authorized
// afresh). The informer replays its store to a new handler before any later
// change, so no change falls between the two.
//
// recheck says whether the caller may still watch; it runs every
// Options.WatchRecheck, so that a watch outlives neither the caller's token
// nor their RoleBindings by more than that (and the caches' lifetimes).
func (s *Server) watch(w http.ResponseWriter, r *http.Request, k *kind, namespace, alias string, recheck func(context.Context) error) error {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	inf, err := s.cache.GetInformer(ctx, k.newObject())
	if err != nil {
		return fmt.Errorf("informer for %s: %w", k.resource, err)
	}
	events := make(chan watchEvent, 256)
	reg, err := inf.AddEventHandler(&watchHandler{ctx: ctx, events: events, namespace: namespace, alias: alias})
	if err != nil {
		return fmt.Errorf("watch %s: %w", k.resource, err)
	}
	defer func() {
		cancel() // first, to release a handler blocked on a send
		_ = inf.RemoveEventHandler(reg)
	}()
	// replayed is closed once the handler has been given every object the
	// informer held when it was added: all of them are then in events,
	// ahead of any later change.
	replayed := make(chan struct{})
	go func() {
		if toolscache.WaitForCacheSync(ctx.Done(), reg.HasSynced) {
			close(replayed)
		}
	}()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	flush := func() error {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // unsupported by some writers: then none
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := flush(); err != nil {
		return nil
	}
	heartbeat := time.NewTicker(heartbeatInterval)
	defer heartbeat.Stop()
	rechecks := time.NewTicker(s.opts.WatchRecheck)
	defer rechecks.Stop()
	lifetime := time.NewTimer(jittered(s.opts.WatchLifetime))
	defer lifetime.Stop()
	log := ctrl.LoggerFrom(ctx)
	// writeQueued sends what is queued (the first events of a watch are
	// the whole list) in one write, up to a batch.
	writeQueued := func(ev watchEvent) {
		for n := 1; ; n++ {
			if err := writeEvent(bw, ev, k); err != nil {
				log.Error(err, "encode a watch event", "kind", k.name)
			}
			if n == maxBatch || len(events) == 0 {
				return
			}
			ev = <-events // this loop is the only receiver: it does not block
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-heartbeat.C:
			_, _ = bw.WriteString(": heartbeat\n\n")
		case <-replayed:
			replayed = nil
			for len(events) > 0 {
				writeQueued(<-events)
			}
			writeStreamEvent(bw, apitypes.WatchEvent{Type: apitypes.WatchSynced})
		case <-rechecks.C:
			if err := recheck(ctx); err != nil {
				st, known := statusOf(err)
				if !known || (st.Code != http.StatusUnauthorized && st.Code != http.StatusForbidden) {
					// The question could not be asked: end the watch
					// without a verdict; the client's next one is
					// authorized (or refused) as it connects.
					log.Error(err, "re-authorize a watch", "kind", k.name, "namespace", namespace)
					writeStreamEvent(bw, apitypes.WatchEvent{Type: apitypes.WatchReconnect})
				} else {
					raw, _ := json.Marshal(&st)
					writeStreamEvent(bw, apitypes.WatchEvent{Type: apitypes.WatchError, Object: raw})
				}
				_ = flush()
				return nil
			}
		case <-lifetime.C:
			writeStreamEvent(bw, apitypes.WatchEvent{Type: apitypes.WatchReconnect})
			_ = flush()
			return nil
		case ev := <-events:
			writeQueued(ev)
		}
		if err := flush(); err != nil {
			return nil // the client is gone; there is nobody to answer
		}
	}
}

// jittered returns a duration between three quarters of d and d, so that
// the watches a restart opened together do not all end together.
func jittered(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d/4)+1))
}

// writeEvent writes one event; it returns only encoding errors, since a
// failed write makes the next flush fail.
func writeEvent(bw *bufio.Writer, ev watchEvent, k *kind) error {
	raw, err := encodeObject(ev.obj, k)
	if err != nil {
		return err
	}
	line, err := json.Marshal(apitypes.WatchEvent{Type: ev.typ, Object: raw})
	if err != nil {
		return fmt.Errorf("encode a watch event: %w", err)
	}
	writeData(bw, line)
	return nil
}

// writeStreamEvent writes an event about the stream itself.
func writeStreamEvent(bw *bufio.Writer, ev apitypes.WatchEvent) {
	line, _ := json.Marshal(ev) // a type and raw JSON: it cannot fail
	writeData(bw, line)
}

func writeData(bw *bufio.Writer, line []byte) {
	_, _ = bw.WriteString("data: ")
	_, _ = bw.Write(line)
	_, _ = bw.WriteString("\n\n")
}

// watchHandler passes the informer's notifications for one namespace (and
// alias) to a watch. It blocks the informer's delivery to this handler
// alone (each handler has its own queue) until the watch takes the event
// or ends.
type watchHandler struct {
	ctx       context.Context
	events    chan<- watchEvent
	namespace string
	alias     string
}

func (h *watchHandler) OnAdd(obj any, _ bool) {
	if o, ok := h.match(obj); ok {
		h.send(watchEvent{typ: eventAdded, obj: o})
	}
}

func (h *watchHandler) OnUpdate(oldObj, newObj any) {
	o, okOld := oldObj.(client.Object)
	n, okNew := newObj.(client.Object)
	if !okNew || (okOld && o.GetResourceVersion() == n.GetResourceVersion()) {
		return // a resync: nothing changed
	}
	_, isMatch := h.match(newObj)
	_, wasMatch := h.match(oldObj)
	switch {
	case isMatch && !wasMatch:
		// The object entered the selection (it took the alias).
		h.send(watchEvent{typ: eventAdded, obj: n})
	case isMatch:
		h.send(watchEvent{typ: eventModified, obj: n})
	case wasMatch:
		// The object left the selection (its alias changed): to this
		// watch it is gone.
		h.send(watchEvent{typ: eventDeleted, obj: n})
	}
}

func (h *watchHandler) OnDelete(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if o, ok := h.match(obj); ok {
		h.send(watchEvent{typ: eventDeleted, obj: o})
	}
}

func (h *watchHandler) match(obj any) (client.Object, bool) {
	o, ok := obj.(client.Object)
	if !ok || o.GetNamespace() != h.namespace {
		return o, false
	}
	if h.alias != "" && o.GetLabels()[kargoapi.AliasLabelKey] != h.alias {
		return o, false
	}
	return o, true
}

func (h *watchHandler) send(ev watchEvent) {
	select {
	case h.events <- ev:
	case <-h.ctx.Done():
	}
}
