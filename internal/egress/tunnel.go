package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Tunnel forwards TCP connections from a port on 127.0.0.1 to one target,
// dialed through the policy. It is how a child process that speaks
// something other than HTTP (ssh, for git over SSH) reaches a host under
// the policy: the process is pointed at the tunnel's address, so it never
// resolves or dials the target itself, and the policy judges the target
// (after resolving it) at every connection.
type Tunnel struct {
	policy *Policy
	target string
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	refused *RefusedError
	err     error
}

// Tunnel starts a tunnel to target (host:port) that lives until Close or
// until ctx ends. Each connection accepted on its address becomes one
// connection to the target.
func (p *Policy) Tunnel(ctx context.Context, target string) (*Tunnel, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("tunnel to %s: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tunnel to %s: %w", target, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	t := &Tunnel{policy: p, target: target, ln: ln, ctx: ctx, cancel: cancel}
	t.wg.Add(1)
	go t.accept()
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	return t, nil
}

// Addr is the tunnel's address on 127.0.0.1.
func (t *Tunnel) Addr() *net.TCPAddr { return t.ln.Addr().(*net.TCPAddr) }

// Refused returns the first connection to the target that the policy
// refused, or nil: the client only sees its connection closed.
func (t *Tunnel) Refused() *RefusedError {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refused
}

// Err returns the first error dialing the target other than a refusal.
func (t *Tunnel) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Close stops accepting, ends the connections under way and waits for
// them.
func (t *Tunnel) Close() {
	t.cancel()
	_ = t.ln.Close()
	t.wg.Wait()
}

func (t *Tunnel) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.serve(c)
		}()
	}
}

func (t *Tunnel) serve(client net.Conn) {
	defer client.Close()
	target, err := t.policy.DialContext(t.ctx, "tcp", t.target)
	if err != nil {
		t.mu.Lock()
		var refused *RefusedError
		if errors.As(err, &refused) {
			if t.refused == nil {
				t.refused = refused
			}
		} else if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
		return
	}
	defer target.Close()
	// Closing both ends unblocks the copies when the tunnel is closed.
	stop := context.AfterFunc(t.ctx, func() {
		_ = client.SetDeadline(time.Now())
		_ = target.SetDeadline(time.Now())
	})
	defer stop()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(target, client); closeWrite(target); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, target); closeWrite(client); done <- struct{}{} }()
	<-done
	<-done
}
