// Package helmserver runs a real Helm chart repository on loopback for
// tests: it serves an index.yaml built from chart entries, with ETag and
// Last-Modified validators, optional basic auth, fault injection and a
// record of every request. PushOCIChart puts a chart into a test OCI
// registry the way `helm push` does.
package helmserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// Options configure a Server.
type Options struct {
	// Username and Password, when Username is set, require HTTP basic auth.
	Username string
	Password string
	// TLS serves HTTPS with httptest's self-signed certificate.
	TLS bool
	// Path is where the repository lives on the server; URL ends with it.
	// Empty means "/charts", so clients must resolve index.yaml against a
	// repository URL that has a path and no trailing slash.
	Path string
	// NoValidators omits ETag and Last-Modified, like a naive static host.
	NoValidators bool
}

// Chart is one version of a chart in the index.
type Chart struct {
	Name       string
	Version    string
	AppVersion string
	Created    time.Time
}

// Fault makes the server answer index requests with an error status.
type Fault struct {
	// Status is the status code to answer with.
	Status int
	// Header is added to the answer, such as Retry-After.
	Header http.Header
	// Times is how many requests the fault answers; 0 means forever.
	Times int
}

// Request is one request the server answered.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the request path.
	Path string
	// Status is the status code of the answer.
	Status int
	// Conditional is true when the request carried If-None-Match or
	// If-Modified-Since.
	Conditional bool
}

// Server is a running test chart repository. It is safe for concurrent use.
type Server struct {
	opts   Options
	server *httptest.Server

	mu           sync.Mutex
	index        []byte
	charts       []Chart
	etag         string
	lastModified time.Time
	faults       []*faultState
	requests     []Request
}

type faultState struct {
	Fault
	used int
}

// New starts a server on 127.0.0.1 with an empty index and stops it when
// the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Path == "" {
		opts.Path = "/charts"
	}
	opts.Path = "/" + strings.Trim(opts.Path, "/")
	s := &Server{opts: opts, lastModified: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.setIndex(BuildIndex(nil))
	s.server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		s.server.StartTLS()
	} else {
		s.server.Start()
	}
	t.Cleanup(s.server.Close)
	return s
}

// URL is the repository URL, without a trailing slash.
func (s *Server) URL() string { return s.server.URL + s.opts.Path }

// Host is the server's host:port.
func (s *Server) Host() string { return s.server.Listener.Addr().String() }

// Transport returns a transport that trusts the server's certificate.
func (s *Server) Transport() http.RoundTripper {
	if t, ok := s.server.Client().Transport.(*http.Transport); ok {
		return t.Clone()
	}
	return http.DefaultTransport.(*http.Transport).Clone()
}

// Close stops the server early, so tests can reach a port nobody listens
// on.
func (s *Server) Close() { s.server.Close() }

// SetCharts replaces the index with one listing charts, and serves each
// chart's package (a tarball holding its Chart.yaml) at the URL the index
// gives, so `helm dependency build` can download it. The validators change
// only if the content does.
func (s *Server) SetCharts(charts ...Chart) {
	s.setIndex(BuildIndex(charts))
	s.mu.Lock()
	s.charts = append([]Chart(nil), charts...)
	s.mu.Unlock()
}

// SetIndex serves raw as index.yaml, valid or not.
func (s *Server) SetIndex(raw []byte) {
	s.setIndex(raw)
}

func (s *Server) setIndex(raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256(raw)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if etag != s.etag {
		s.lastModified = s.lastModified.Add(time.Minute)
	}
	s.index, s.etag = raw, etag
}

// Inject adds a fault; faults are tried in the order they were added.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
}

// Requests returns a copy of every request recorded so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many recorded requests satisfy match (all when nil).
func (s *Server) Count(match func(Request) bool) int {
	n := 0
	for _, r := range s.Requests() {
		if match == nil || match(r) {
			n++
		}
	}
	return n
}

// WithStatus matches requests answered with status.
func WithStatus(status int) func(Request) bool {
	return func(r Request) bool { return r.Status == status }
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	rec := Request{
		Method:      req.Method,
		Path:        req.URL.Path,
		Conditional: req.Header.Get("If-None-Match") != "" || req.Header.Get("If-Modified-Since") != "",
	}
	// Record the request, with its status, as the status is sent: a client
	// may read the whole answer and count requests before this handler
	// returns.
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	idx := len(s.requests) - 1
	s.mu.Unlock()
	setStatus := func(status int) {
		s.mu.Lock()
		if idx < len(s.requests) {
			s.requests[idx].Status = status
		}
		s.mu.Unlock()
	}
	s.answer(&recordingWriter{ResponseWriter: w, onStatus: setStatus}, req)
}

// recordingWriter reports the status before it is sent.
type recordingWriter struct {
	http.ResponseWriter
	onStatus func(int)
	sent     bool
}

func (w *recordingWriter) WriteHeader(status int) {
	if !w.sent {
		w.sent = true
		w.onStatus(status)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if !w.sent {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) answer(w http.ResponseWriter, req *http.Request) int {
	s.mu.Lock()
	var hit *faultState
	for _, f := range s.faults {
		if f.Times == 0 || f.used < f.Times {
			f.used++
			hit = f
			break
		}
	}
	index, etag, lastModified := s.index, s.etag, s.lastModified
	s.mu.Unlock()

	if hit != nil {
		for k, vs := range hit.Header {
			w.Header()[k] = vs
		}
		http.Error(w, http.StatusText(hit.Status), hit.Status)
		return hit.Status
	}
	if s.opts.Username != "" {
		user, pass, ok := req.BasicAuth()
		if !ok || user != s.opts.Username || pass != s.opts.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="testutil-helm"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return http.StatusUnauthorized
		}
	}
	if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, ".tgz") {
		return s.servePackage(w, req)
	}
	if req.URL.Path != s.opts.Path+"/index.yaml" || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		http.NotFound(w, req)
		return http.StatusNotFound
	}
	if !s.opts.NoValidators {
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastModified.Format(http.TimeFormat))
		if notModified(req, etag, lastModified) {
			w.WriteHeader(http.StatusNotModified)
			return http.StatusNotModified
		}
	}
	w.Header().Set("Content-Type", "application/x-yaml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(index)
	return http.StatusOK
}

// servePackage answers a request for a chart package the index lists.
func (s *Server) servePackage(w http.ResponseWriter, req *http.Request) int {
	s.mu.Lock()
	charts := s.charts
	s.mu.Unlock()
	for _, c := range charts {
		if req.URL.Path != fmt.Sprintf("%s/%s-%s.tgz", s.opts.Path, c.Name, c.Version) {
			continue
		}
		pkg, err := packageChart(c.Name, fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\ntype: application\n", c.Name, c.Version))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "application/gzip")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(pkg)
		return http.StatusOK
	}
	http.NotFound(w, req)
	return http.StatusNotFound
}

// notModified applies RFC 9110: If-None-Match wins over If-Modified-Since.
func notModified(req *http.Request, etag string, lastModified time.Time) bool {
	if inm := req.Header.Get("If-None-Match"); inm != "" {
		for _, candidate := range strings.Split(inm, ",") {
			c := strings.TrimSpace(candidate)
			if c == "*" || strings.TrimPrefix(c, "W/") == etag {
				return true
			}
		}
		return false
	}
	if ims := req.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !lastModified.After(t)
	}
	return false
}

type indexFile struct {
	APIVersion string                   `json:"apiVersion"`
	Entries    map[string][]chartRecord `json:"entries"`
	Generated  time.Time                `json:"generated"`
}

type chartRecord struct {
	APIVersion  string    `json:"apiVersion"`
	AppVersion  string    `json:"appVersion,omitempty"`
	Created     time.Time `json:"created"`
	Description string    `json:"description"`
	Digest      string    `json:"digest"`
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	URLs        []string  `json:"urls"`
	Version     string    `json:"version"`
}

// BuildIndex renders charts as a Helm repository index.yaml, with the
// fields `helm repo index` writes, each chart's versions newest-created
// first as Helm sorts them.
func BuildIndex(charts []Chart) []byte {
	idx := indexFile{APIVersion: "v1", Entries: map[string][]chartRecord{}, Generated: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, c := range charts {
		sum := sha256.Sum256([]byte(c.Name + "-" + c.Version))
		created := c.Created
		if created.IsZero() {
			created = idx.Generated
		}
		idx.Entries[c.Name] = append(idx.Entries[c.Name], chartRecord{
			APIVersion:  "v2",
			AppVersion:  c.AppVersion,
			Created:     created,
			Description: "A Helm chart for Kubernetes",
			Digest:      hex.EncodeToString(sum[:]),
			Name:        c.Name,
			Type:        "application",
			URLs:        []string{fmt.Sprintf("%s-%s.tgz", c.Name, c.Version)},
			Version:     c.Version,
		})
	}
	for _, versions := range idx.Entries {
		sort.SliceStable(versions, func(i, j int) bool { return versions[i].Created.After(versions[j].Created) })
	}
	out, err := yaml.Marshal(idx)
	if err != nil {
		panic(fmt.Sprintf("render index.yaml: %v", err))
	}
	return out
}

// BuildIndexJSON renders charts as the JSON form of an index, which some
// repository servers (and `helm repo index --json`) produce.
func BuildIndexJSON(charts []Chart) []byte {
	y := BuildIndex(charts)
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		panic(fmt.Sprintf("render index as JSON: %v", err))
	}
	var pretty any
	if err := json.Unmarshal(j, &pretty); err != nil {
		panic(err)
	}
	out, _ := json.MarshalIndent(pretty, "", "  ")
	return out
}
