// Package throttle shares each remote host's request budget among every
// caller in the process, fairly, and remembers when a host has asked
// (with 429 Too Many Requests) to be left alone.
//
// Registries rate-limit per client address, and one controller process is
// one address: a Warehouse that inspects thousands of tags spends the same
// budget every other Warehouse needs. A Throttle therefore holds one token
// bucket per host, and hands its tokens round-robin to the callers ("flows")
// that are waiting, so a flow with one request to make waits behind at most
// one request of every other flow, however many requests those flows have
// queued or how many goroutines they use.
package throttle

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/kargohq/kargo/internal/sourceerr"
)

// Defaults for Options.
const (
	// DefaultPerHostRate is a pace most registries tolerate from one client
	// indefinitely; Docker Hub's documented limits are far below it only for
	// manifest GETs, which the metadata cache keeps rare.
	DefaultPerHostRate = 20
	// DefaultBurst lets a small discovery finish without waiting at all.
	DefaultBurst = 10
	// DefaultRetryAfter is assumed when a 429 carries no usable Retry-After.
	DefaultRetryAfter = time.Minute
	// DefaultMaxRetryAfter bounds how long one 429 can silence a host, so a
	// broken header cannot stop discovery for days.
	DefaultMaxRetryAfter = time.Hour
)

// Options configure a Throttle.
type Options struct {
	// PerHostRate is the sustained requests per second allowed to each host.
	// Zero means DefaultPerHostRate; rate.Inf disables the limit.
	PerHostRate rate.Limit
	// Burst is how many requests a host may receive at once after a quiet
	// period. Zero means DefaultBurst.
	Burst int
	// Now tells the time for Retry-After bookkeeping; tests move it forward
	// instead of sleeping. Nil means time.Now.
	Now func() time.Time
	// MaxRetryAfter caps the wait one 429 can impose. Zero means
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
}

// Throttle paces requests per host. One Throttle serves a whole process;
// it is safe for concurrent use.
type Throttle struct {
	opts  Options
	mu    sync.Mutex
	gates map[string]*gate
}

// New returns a Throttle with opts' defaults filled in.
func New(opts Options) *Throttle {
	if opts.PerHostRate == 0 {
		opts.PerHostRate = DefaultPerHostRate
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	return &Throttle{opts: opts, gates: map[string]*gate{}}
}

type flowKey struct{}

var lastFlow atomic.Uint64

// WithFlow marks ctx as one caller for fair sharing: requests made with
// the returned context queue behind each other, not behind other flows'.
// A context that already carries a flow is returned unchanged, so a
// discovery that calls another package's discovery stays one flow.
func WithFlow(ctx context.Context) context.Context {
	if _, ok := ctx.Value(flowKey{}).(uint64); ok {
		return ctx
	}
	return context.WithValue(ctx, flowKey{}, lastFlow.Add(1))
}

func flowOf(ctx context.Context) uint64 {
	f, _ := ctx.Value(flowKey{}).(uint64)
	return f
}

// Wait blocks until ctx's flow may send one request to host. It fails at
// once with a *sourceerr.RateLimitedError while host is backing off, and
// with ctx's error if ctx ends first.
func (t *Throttle) Wait(ctx context.Context, host string) error {
	return t.gate(host).acquire(ctx, flowOf(ctx))
}

// Block makes every request to host fail with a *sourceerr.RateLimitedError
// until the given time.
func (t *Throttle) Block(host string, until time.Time) {
	t.gate(host).block(until)
}

// BlockedUntil reports when host may be contacted again, if it is backing
// off now.
func (t *Throttle) BlockedUntil(host string) (time.Time, bool) {
	g := t.gate(host)
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.opts.Now().Before(g.blockedUntil) {
		return g.blockedUntil, true
	}
	return time.Time{}, false
}

// Transport wraps base so that every request first waits for its host's
// turn, and a 429 answer blocks the host for as long as its Retry-After
// asks (bounded by MaxRetryAfter). The 429 response itself is passed on, so
// callers classify it like any other status.
func (t *Throttle) Transport(base http.RoundTripper) http.RoundTripper {
	return &transport{t: t, base: base}
}

type transport struct {
	t    *Throttle
	base http.RoundTripper
}

func (rt *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := rt.t.Wait(req.Context(), req.URL.Host); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	resp, err := rt.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		rt.t.Block(req.URL.Host, rt.t.retryAt(resp.Header.Get("Retry-After")))
	}
	return resp, nil
}

// retryAt turns a Retry-After header (seconds or an HTTP date) into a time.
func (t *Throttle) retryAt(header string) time.Time {
	now := t.opts.Now()
	d := DefaultRetryAfter
	if secs, err := strconv.Atoi(header); err == nil && secs >= 0 {
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(header); err == nil {
		d = at.Sub(now)
	}
	if d < time.Second {
		// A zero or past Retry-After still means "not now"; one second
		// keeps a misbehaving server from being hammered in a loop.
		d = time.Second
	}
	if d > t.opts.MaxRetryAfter {
		d = t.opts.MaxRetryAfter
	}
	return now.Add(d)
}

func (t *Throttle) gate(host string) *gate {
	t.mu.Lock()
	defer t.mu.Unlock()
	g, ok := t.gates[host]
	if !ok {
		g = &gate{
			host:    host,
			now:     t.opts.Now,
			limiter: rate.NewLimiter(t.opts.PerHostRate, t.opts.Burst),
			flows:   map[uint64][]*waiter{},
			wake:    make(chan struct{}, 1),
		}
		t.gates[host] = g
	}
	return g
}

// waiter states.
const (
	queued = iota
	granted
	abandoned
)

type waiter struct {
	ch    chan error
	state int
}

// gate is one host's token bucket and the round-robin queue in front of it.
// A dispatcher goroutine runs only while requests are queued.
type gate struct {
	host    string
	now     func() time.Time
	limiter *rate.Limiter

	mu           sync.Mutex
	blockedUntil time.Time
	flows        map[uint64][]*waiter
	ring         []uint64 // flows with queued waiters, in serving order
	queued       int
	dispatching  bool
	// wake interrupts the dispatcher's wait for a token when the wait has
	// become pointless: the host started backing off, or nobody is queued.
	wake chan struct{}
}

func (g *gate) wakeDispatcher() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func (g *gate) rateLimited() error {
	return &sourceerr.RateLimitedError{Host: g.host, RetryAfter: g.blockedUntil}
}

func (g *gate) acquire(ctx context.Context, flow uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	if g.now().Before(g.blockedUntil) {
		defer g.mu.Unlock()
		return g.rateLimited()
	}
	w := &waiter{ch: make(chan error, 1)}
	if len(g.flows[flow]) == 0 {
		g.ring = append(g.ring, flow)
	}
	g.flows[flow] = append(g.flows[flow], w)
	g.queued++
	if !g.dispatching {
		g.dispatching = true
		go g.dispatch()
	}
	g.mu.Unlock()

	select {
	case err := <-w.ch:
		return err
	case <-ctx.Done():
		g.mu.Lock()
		if w.state == queued {
			w.state = abandoned
			g.queued--
			if g.queued == 0 {
				g.wakeDispatcher()
			}
			g.mu.Unlock()
			return fmt.Errorf("wait for a request slot for %s: %w", g.host, ctx.Err())
		}
		g.mu.Unlock()
		// Granted at the same moment: the slot is spent either way.
		if err := <-w.ch; err != nil {
			return err
		}
		return ctx.Err()
	}
}

func (g *gate) block(until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.blockedUntil) {
		g.blockedUntil = until
		g.wakeDispatcher()
	}
}

func (g *gate) dispatch() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		g.mu.Lock()
		if g.queued == 0 {
			g.dispatching = false
			g.mu.Unlock()
			return
		}
		if g.now().Before(g.blockedUntil) {
			g.failAllLocked()
			g.dispatching = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()

		r := g.limiter.Reserve()
		if d := r.Delay(); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-g.wake:
				// Give the token back and look again at why we woke.
				timer.Stop()
				r.Cancel()
				continue
			}
		}

		g.mu.Lock()
		if g.now().Before(g.blockedUntil) {
			// A 429 arrived while this slot was pending; the loop fails
			// everyone queued.
			g.mu.Unlock()
			continue
		}
		if w := g.nextLocked(); w != nil {
			w.state = granted
			g.queued--
			w.ch <- nil
		} else {
			r.Cancel()
		}
		g.mu.Unlock()
	}
}

// nextLocked pops the first live waiter of the flow whose turn it is and
// moves that flow to the back of the ring.
func (g *gate) nextLocked() *waiter {
	for len(g.ring) > 0 {
		flow := g.ring[0]
		g.ring = g.ring[1:]
		ws := g.flows[flow]
		var w *waiter
		for len(ws) > 0 && w == nil {
			if ws[0].state == queued {
				w = ws[0]
			}
			ws[0] = nil
			ws = ws[1:]
		}
		if len(ws) > 0 {
			g.flows[flow] = ws
			g.ring = append(g.ring, flow)
		} else {
			delete(g.flows, flow)
		}
		if w != nil {
			return w
		}
	}
	return nil
}

func (g *gate) failAllLocked() {
	err := g.rateLimited()
	for flow, ws := range g.flows {
		for _, w := range ws {
			if w.state == queued {
				w.state = granted
				w.ch <- err
			}
		}
		delete(g.flows, flow)
	}
	g.ring = nil
	g.queued = 0
}
