package egress

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// proxyUser is the user name of every Session's proxy credentials; the
// password tells sessions apart.
const proxyUser = "kargo"

// Proxy is an HTTP forward proxy on 127.0.0.1 for child processes such as
// git: CONNECT tunnels (https://) and absolute-form requests (http://) are
// dialed through its Policy. It serves only clients that present the
// credentials of an open Session.
type Proxy struct {
	policy *Policy
	ln     net.Listener
	srv    *http.Server
	fwd    *httputil.ReverseProxy

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool
}

// Session is one client's use of the Proxy, such as one git invocation.
type Session struct {
	proxy *Proxy
	token string

	mu      sync.Mutex
	refused *RefusedError
}

// Proxy returns the policy's proxy, starting it on first use. One proxy
// serves every session of the policy; Close stops it.
func (p *Policy) Proxy() (*Proxy, error) {
	p.proxyOnce.Do(func() {
		p.proxy, p.proxyErr = startProxy(p)
	})
	if p.proxy == nil && p.proxyErr == nil {
		return nil, errors.New("the outbound proxy is closed")
	}
	return p.proxy, p.proxyErr
}

func startProxy(p *Policy) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the outbound proxy for git: %w", err)
	}
	x := &Proxy{policy: p, ln: ln, sessions: map[string]*Session{}}
	t := p.Transport(nil)
	x.fwd = &httputil.ReverseProxy{
		// The request is in absolute form and already names its target;
		// the client's own Host header is kept.
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.Out.Host = pr.In.Host },
		Transport: t,
		ErrorLog:  discardLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			x.fail(w, r, err)
		},
	}
	x.srv = &http.Server{
		Handler:           x,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          discardLog,
	}
	go func() { _ = x.srv.Serve(ln) }()
	return x, nil
}

// NewSession opens a session with fresh credentials. Close it when the
// client is done.
func (x *Proxy) NewSession() (*Session, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("make outbound proxy credentials: %w", err)
	}
	s := &Session{proxy: x, token: hex.EncodeToString(raw)}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil, errors.New("the outbound proxy is closed")
	}
	x.sessions[s.token] = s
	return s, nil
}

// URL is the proxy's URL with the session's credentials, as git's
// http.proxy takes it. It holds a secret: pass it in the environment, never
// in an argument list.
func (s *Session) URL() string {
	return "http://" + proxyUser + ":" + s.token + "@" + s.proxy.ln.Addr().String()
}

// Refused returns the first connection the policy refused during the
// session, or nil.
func (s *Session) Refused() *RefusedError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Close ends the session; the proxy refuses its credentials from then on.
func (s *Session) Close() {
	s.proxy.mu.Lock()
	defer s.proxy.mu.Unlock()
	delete(s.proxy.sessions, s.token)
}

func (x *Proxy) close() error {
	x.mu.Lock()
	x.closed = true
	x.sessions = map[string]*Session{}
	x.mu.Unlock()
	return x.srv.Close()
}

// session finds the session whose credentials r carries.
func (x *Proxy) session(r *http.Request) *Session {
	auth := r.Header.Get("Proxy-Authorization")
	enc, ok := strings.CutPrefix(auth, "Basic ")
	if !ok {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil
	}
	user, token, ok := strings.Cut(string(raw), ":")
	if !ok || user != proxyUser {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for t, s := range x.sessions {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			return s
		}
	}
	return nil
}

// discardLog silences the proxy's server: a client that hangs up is
// ordinary, and the caller learns of failures from the client.
var discardLog = log.New(io.Discard, "", 0)

type sessionKey struct{}

func (x *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := x.session(r)
	if s == nil {
		w.Header().Set("Proxy-Authenticate", `Basic realm="kargo"`)
		http.Error(w, "proxy credentials required", http.StatusProxyAuthRequired)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
	if r.Method == http.MethodConnect {
		x.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() || r.URL.Scheme != "http" {
		http.Error(w, "this proxy forwards http:// requests and CONNECT tunnels only", http.StatusBadRequest)
		return
	}
	x.fwd.ServeHTTP(w, r)
}

// tunnel connects to the CONNECT request's target through the policy and
// copies bytes both ways until either side closes.
func (x *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	target, err := x.policy.DialContext(r.Context(), "tcp", r.Host)
	if err != nil {
		x.fail(w, r, err)
		return
	}
	defer target.Close()
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot tunnel", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
	client, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer client.Close()
	// Bytes the client sent after its CONNECT request, if any, are in rw.
	if n := rw.Reader.Buffered(); n > 0 {
		if _, err := io.CopyN(target, rw.Reader, int64(n)); err != nil {
			return
		}
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(target, client); closeWrite(target); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, target); closeWrite(client); done <- struct{}{} }()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// fail answers a request whose connection could not be made: 403 for a
// refusal, which the session records, and 502 for anything else.
func (x *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	var refused *RefusedError
	if errors.As(err, &refused) {
		if s, ok := r.Context().Value(sessionKey{}).(*Session); ok {
			s.mu.Lock()
			if s.refused == nil {
				s.refused = refused
			}
			s.mu.Unlock()
		}
		http.Error(w, refused.Error(), http.StatusForbidden)
		return
	}
	http.Error(w, "connect: "+err.Error(), http.StatusBadGateway)
}
