// Package localsrc holds the artifact sources `kargo local --demo` serves
// from the kargo binary on loopback, which the tests' servers
// (internal/testutil) wrap: a Git smart-HTTP server (gitserver/) and an OCI
// registry (registry/). This file is what both do to serve HTTP.
package localsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is an HTTP server on a loopback address.
type Server struct {
	srv      *http.Server
	addr     string
	served   chan struct{}
	stopCtx  func() bool
	onClose  func() error
	once     sync.Once
	closeErr error
}

// Serve serves h on addr, such as "127.0.0.1:0", until Close is called or
// ctx is done; then onClose, when not nil, runs once the last request has
// finished. what names the server in errors.
func Serve(ctx context.Context, addr, what string, h http.Handler, onClose func() error) (*Server, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the %s on %s: %w", what, addr, err)
	}
	s := &Server{
		// Clients that hang up mid-request are the clients' business.
		srv:     &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(io.Discard, "", 0)},
		addr:    ln.Addr().String(),
		served:  make(chan struct{}),
		onClose: onClose,
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln) // always http.ErrServerClosed or a listener error
	}()
	s.stopCtx = context.AfterFunc(ctx, func() { _ = s.shutdown() })
	return s, nil
}

// Addr is the address the server listens on, such as 127.0.0.1:41234.
func (s *Server) Addr() string { return s.addr }

// URL is the server's base URL, such as http://127.0.0.1:41234, without a
// trailing slash.
func (s *Server) URL() string { return "http://" + s.addr }

// Close stops the server, letting requests in flight finish for up to two
// seconds first. It is safe to call more than once.
func (s *Server) Close() error {
	s.stopCtx()
	return s.shutdown()
}

func (s *Server) shutdown() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			// What is still open after the grace period is closed. That is
			// no error: a client's spare connection that never carried a
			// request counts as busy for its first five seconds.
			closeErr := s.srv.Close()
			if !errors.Is(err, context.DeadlineExceeded) {
				s.closeErr = errors.Join(err, closeErr)
			}
		}
		<-s.served
		if s.onClose != nil {
			s.closeErr = errors.Join(s.closeErr, s.onClose())
		}
	})
	return s.closeErr
}
