// Package registry runs a real OCI distribution registry on loopback for
// tests: the handler of `kargo local --demo`'s registry
// (internal/localsrc/registry, go-containerregistry's in-process registry
// with a tag list paginated as the spec says), kept in memory, behind an
// httptest server, optionally with basic auth and TLS, with fault injection
// and a record of every request, so tests can assert on what a client did
// to a registry rather than on how long it took.
//
// Content is pushed through a second, private listener that skips auth,
// faults and the request record, so setting up a test never disturbs what
// the test measures.
package registry

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	localregistry "github.com/kargohq/kargo/internal/localsrc/registry"
)

// Options configure a Registry.
type Options struct {
	// Username and Password, when Username is set, make every request
	// (including the /v2/ ping) require HTTP basic auth; a wrong or missing
	// Authorization header gets 401 with a Basic challenge.
	Username string
	Password string
	// TLS serves HTTPS with httptest's self-signed certificate; use
	// Transport to trust it.
	TLS bool
}

// Kind is the part of the distribution API a request addressed.
type Kind string

// The kinds of registry requests.
const (
	KindPing     Kind = "ping"
	KindTags     Kind = "tags"
	KindManifest Kind = "manifest"
	KindBlob     Kind = "blob"
	KindOther    Kind = "other"
)

// Request is one request the registry answered through its public listener.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Kind is the API the request addressed.
	Kind Kind
	// Repo is the repository named in the path, if any.
	Repo string
	// Reference is the tag or digest of a manifest or blob request.
	Reference string
	// Status is the status code of the answer.
	Status int
	// Faulted is true when an injected fault, not the registry, answered.
	Faulted bool
}

// Fault makes the registry answer matching requests with an error status
// instead of serving them.
type Fault struct {
	// Status is the status code to answer with, such as 429 or 503.
	Status int
	// Header is added to the answer, such as Retry-After.
	Header http.Header
	// Times is how many requests the fault answers before it passes
	// requests through again; 0 means every matching request, forever.
	Times int
	// Match selects the requests the fault applies to; nil means all.
	Match func(Request) bool
}

type fault struct {
	Fault
	used int
}

// Registry is a running test registry. It is safe for concurrent use.
type Registry struct {
	opts   Options
	inner  http.Handler
	server *httptest.Server
	admin  *httptest.Server

	mu          sync.Mutex
	requests    []Request
	epoch       int // bumped by ResetRequests, so late status updates skip forgotten requests
	faults      []*fault
	interceptor func(http.ResponseWriter, *http.Request) bool
}

// New starts a registry on 127.0.0.1 and stops it when the test ends.
func New(t testing.TB, opts Options) *Registry {
	t.Helper()
	r := &Registry{opts: opts, inner: localregistry.NewMemoryHandler()}
	r.server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	// Clients probing TLS and plain HTTP make the server log handshake
	// errors that are expected and say nothing about the test.
	r.server.Config.ErrorLog = discardLogger()
	if opts.TLS {
		r.server.StartTLS()
	} else {
		r.server.Start()
	}
	r.admin = httptest.NewServer(r.inner)
	t.Cleanup(func() {
		r.server.Close()
		r.admin.Close()
	})
	return r
}

// Host is the registry's address as an image reference names it, such as
// "127.0.0.1:41234".
func (r *Registry) Host() string { return r.server.Listener.Addr().String() }

// URL is the base URL of the registry's public listener.
func (r *Registry) URL() string { return r.server.URL }

// Transport returns a transport that trusts the registry's certificate when
// it serves TLS, so clients under test can verify it like a real one.
func (r *Registry) Transport() http.RoundTripper {
	if t, ok := r.server.Client().Transport.(*http.Transport); ok {
		return t.Clone()
	}
	return http.DefaultTransport.(*http.Transport).Clone()
}

// Inject adds a fault. Faults are tried in the order they were added.
func (r *Registry) Inject(f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, &fault{Fault: f})
}

// ClearFaults removes every injected fault.
func (r *Registry) ClearFaults() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = nil
}

// Intercept installs fn in front of the registry: when fn returns true it has
// answered the request itself. Tests use it to hold requests until they
// release them. Pass nil to remove it.
func (r *Registry) Intercept(fn func(http.ResponseWriter, *http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.interceptor = fn
}

// Requests returns a copy of every request recorded so far.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Count returns how many recorded requests satisfy match.
func (r *Registry) Count(match func(Request) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, req := range r.requests {
		if match == nil || match(req) {
			n++
		}
	}
	return n
}

// ResetRequests forgets the recorded requests.
func (r *Registry) ResetRequests() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
	r.epoch++
}

// ContentGET matches requests that download a manifest or a blob: the
// requests a metadata cache exists to avoid.
func ContentGET(req Request) bool {
	return req.Method == http.MethodGet && (req.Kind == KindManifest || req.Kind == KindBlob)
}

// InRepo matches requests that address repo.
func InRepo(repo string) func(Request) bool {
	return func(req Request) bool { return req.Repo == repo }
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	rec := classify(req)
	rec.Status = http.StatusOK // what net/http sends when a handler writes nothing
	// Record the request as its status is sent, not when this handler
	// returns: a client may read the whole answer and count requests first.
	r.mu.Lock()
	r.requests = append(r.requests, rec)
	idx, epoch := len(r.requests)-1, r.epoch
	r.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	sw.onStatus = func(status int) {
		r.mu.Lock()
		if r.epoch == epoch && idx < len(r.requests) {
			r.requests[idx].Status = status
			r.requests[idx].Faulted = rec.Faulted
		}
		r.mu.Unlock()
	}

	r.mu.Lock()
	intercept := r.interceptor
	r.mu.Unlock()
	if intercept != nil && intercept(sw, req) {
		return
	}

	r.mu.Lock()
	var hit *fault
	for _, f := range r.faults {
		if f.Times > 0 && f.used >= f.Times {
			continue
		}
		if f.Match == nil || f.Match(rec) {
			f.used++
			hit = f
			break
		}
	}
	r.mu.Unlock()

	if hit != nil {
		rec.Faulted = true
		for k, vs := range hit.Header {
			for _, v := range vs {
				sw.Header().Add(k, v)
			}
		}
		writeError(sw, hit.Status, faultCode(hit.Status), "injected fault")
		return
	}
	if r.opts.Username != "" {
		user, pass, ok := req.BasicAuth()
		if !ok || user != r.opts.Username || pass != r.opts.Password {
			sw.Header().Set("WWW-Authenticate", `Basic realm="testutil-registry"`)
			writeError(sw, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
	}
	r.inner.ServeHTTP(sw, req)
}

func classify(req *http.Request) Request {
	rec := Request{Method: req.Method, Kind: KindOther}
	p := strings.TrimPrefix(req.URL.Path, "/v2/")
	if p == req.URL.Path {
		return rec
	}
	if p == "" {
		rec.Kind = KindPing
		return rec
	}
	if repo, ok := strings.CutSuffix(p, "/tags/list"); ok {
		rec.Kind, rec.Repo = KindTags, repo
		return rec
	}
	for _, k := range []Kind{KindManifest, KindBlob} {
		marker := "/" + string(k) + "s/"
		if i := strings.LastIndex(p, marker); i >= 0 {
			rec.Kind, rec.Repo, rec.Reference = k, p[:i], p[i+len(marker):]
			return rec
		}
	}
	return rec
}

func faultCode(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "TOOMANYREQUESTS"
	case status == http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case status == http.StatusForbidden:
		return "DENIED"
	case status == http.StatusNotFound:
		return "NAME_UNKNOWN"
	case status >= 500:
		return "UNAVAILABLE"
	default:
		return "UNKNOWN"
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

type statusWriter struct {
	http.ResponseWriter
	status   int
	wrote    bool
	onStatus func(int)
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
		if s.onStatus != nil {
			s.onStatus(code)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// adminDo sends a request to the private push listener and checks its status.
func (r *Registry) adminDo(t testing.TB, method, path, contentType string, body []byte, want int) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, r.admin.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("build %s %s: %v", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method == http.MethodGet {
		req.Header.Set("Accept", strings.Join(allManifestTypes, ","))
	}
	resp, err := r.admin.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	return resp
}
