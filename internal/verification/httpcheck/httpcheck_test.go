package httpcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
)

// testEgress is the outbound address policy of the tests' clients: serve
// allows exactly the servers it starts, for as long as their test runs.
var testEgress = egress.New(egress.Options{})

// allow lets the clients of the tests reach s.
func allow(t *testing.T, s *httptest.Server) {
	t.Helper()
	t.Cleanup(testEgress.Allow(egress.MustParseRules(s.Listener.Addr().String())...))
}

func compile(t *testing.T, check kargoapi.HTTPCheck) *Program {
	t.Helper()
	if check.Name == "" {
		check.Name = "check"
	}
	p, err := Compile(check)
	require.NoError(t, err)
	return p
}

func duration(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// serve starts a loopback server that Cleanup stops.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	allow(t, s)
	return s
}

// lookup maps host names to addresses, standing in for DNS.
func lookup(names map[string]string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		a, ok := names[host]
		if !ok {
			return nil, fmt.Errorf("no such host %s", host)
		}
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
}

func TestSameHost(t *testing.T) {
	tests := []struct {
		from, to string
		want     bool
	}{
		{from: "http://svc:8080/a", to: "http://svc:8080/b", want: true},
		{from: "http://svc/a", to: "http://SVC:80/b", want: true},
		{from: "http://svc:8080/a", to: "http://svc:8081/a"},
		{from: "http://svc/a", to: "http://other/a"},
		{from: "https://svc/a", to: "http://svc:443/a"},
		{from: "http://svc/a", to: "https://svc/a"},
	}
	for _, tt := range tests {
		t.Run(tt.from+" to "+tt.to, func(t *testing.T) {
			from, err := url.Parse(tt.from)
			require.NoError(t, err)
			to, err := url.Parse(tt.to)
			require.NoError(t, err)
			require.Equal(t, tt.want, sameHost(from, to))
		})
	}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		check   kargoapi.HTTPCheck
		wantErr []string
	}{
		{
			name:  "defaults",
			check: kargoapi.HTTPCheck{URL: "http://svc/healthz"},
		},
		{
			name:    "unsupported method",
			check:   kargoapi.HTTPCheck{URL: "http://svc/", Method: "DELETE"},
			wantErr: []string{`method "DELETE" is not supported; use GET, HEAD, POST or PUT`},
		},
		{
			name:    "not http",
			check:   kargoapi.HTTPCheck{URL: "ftp://svc/file"},
			wantErr: []string{"url ftp://svc/file must start with http:// or https://"},
		},
		{
			name:    "no host",
			check:   kargoapi.HTTPCheck{URL: "http:///healthz"},
			wantErr: []string{"url http:///healthz has no host"},
		},
		{
			name:    "credentials in the url",
			check:   kargoapi.HTTPCheck{URL: "http://admin:hunter2@svc/"},
			wantErr: []string{"url http://svc/ must not hold credentials; send them in a header read from a Secret"},
		},
		{
			name:    "success code out of range",
			check:   kargoapi.HTTPCheck{URL: "http://svc/", SuccessCodes: []int32{200, 42}},
			wantErr: []string{"success code 42 is not an HTTP status code"},
		},
		{
			name:    "zero timeout",
			check:   kargoapi.HTTPCheck{URL: "http://svc/", Timeout: duration(0)},
			wantErr: []string{"timeout 0s is not positive"},
		},
		{
			name:    "negative interval",
			check:   kargoapi.HTTPCheck{URL: "http://svc/", Interval: duration(-time.Second)},
			wantErr: []string{"interval -1s is negative"},
		},
		{
			name:  "syntax error",
			check: kargoapi.HTTPCheck{URL: "http://svc/", SuccessExpression: "status =="},
			wantErr: []string{
				`successExpression "status ==" does not compile; it may use status (int), headers`,
				"Syntax error",
			},
		},
		{
			name:  "unknown variable",
			check: kargoapi.HTTPCheck{URL: "http://svc/", SuccessExpression: "code == 200"},
			wantErr: []string{
				`successExpression "code == 200" does not compile`,
				"undeclared reference to 'code'",
			},
		},
		{
			name:    "not a bool",
			check:   kargoapi.HTTPCheck{URL: "http://svc/", SuccessExpression: "status + 1"},
			wantErr: []string{`successExpression "status + 1" gives int; it must give a bool, such as status == 200`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check.Name = "check"
			p, err := Compile(tt.check)
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				require.Equal(t, "GET", p.method)
				require.Equal(t, DefaultInterval, p.interval)
				require.Equal(t, DefaultTimeout, p.timeout)
				require.Equal(t, int32(1), p.count)
				return
			}
			require.Error(t, err)
			for _, want := range tt.wantErr {
				require.Contains(t, err.Error(), want)
			}
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestMeasure(t *testing.T) {
	// The server answers as the query asks: status, JSON body, headers.
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for _, v := range q["header"] {
			name, value, _ := strings.Cut(v, ":")
			w.Header().Add(name, value)
		}
		if q.Has("echo") {
			got, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "got": string(got)})
			return
		}
		status := http.StatusOK
		if q.Has("status") {
			status, _ = strconv.Atoi(q.Get("status"))
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, q.Get("body"))
	})
	c := NewClient(ClientOptions{Egress: testEgress})

	tests := []struct {
		name        string
		query       url.Values
		check       kargoapi.HTTPCheck
		wantPassed  bool
		wantMessage string
	}{
		{
			name:       "any 2xx passes",
			query:      url.Values{"status": {"204"}},
			wantPassed: true,
		},
		{
			name:        "3xx is not 2xx",
			query:       url.Values{"status": {"304"}},
			wantMessage: "status 304, want 2xx",
		},
		{
			name:        "fails on status",
			query:       url.Values{"status": {"503"}},
			check:       kargoapi.HTTPCheck{SuccessCodes: []int32{200}},
			wantMessage: "status 503, want 200",
		},
		{
			name:        "lists the wanted codes",
			query:       url.Values{"status": {"200"}},
			check:       kargoapi.HTTPCheck{SuccessCodes: []int32{201, 202, 204}},
			wantMessage: "status 200, want 201, 202 or 204",
		},
		{
			name:       "a listed code passes",
			query:      url.Values{"status": {"418"}},
			check:      kargoapi.HTTPCheck{SuccessCodes: []int32{200, 418}},
			wantPassed: true,
		},
		{
			name:       "expression over the JSON body passes",
			query:      url.Values{"body": {`{"status":"ok","errors":3}`}},
			check:      kargoapi.HTTPCheck{SuccessExpression: `body.status == "ok" && body.errors < 5`},
			wantPassed: true,
		},
		{
			name:        "fails on expression",
			query:       url.Values{"body": {`{"status":"degraded"}`}},
			check:       kargoapi.HTTPCheck{SuccessExpression: `body.status == "ok"`},
			wantMessage: `expression body.status == "ok" was false`,
		},
		{
			name:        "status is judged before the expression",
			query:       url.Values{"status": {"500"}, "body": {`{"status":"ok"}`}},
			check:       kargoapi.HTTPCheck{SuccessExpression: `body.status == "ok"`},
			wantMessage: "status 500, want 2xx",
		},
		{
			name:       "headers by lower-case name and first value",
			query:      url.Values{"header": {"X-Version:v2", "X-Version:v3"}},
			check:      kargoapi.HTTPCheck{SuccessExpression: `headers["x-version"] == "v2"`},
			wantPassed: true,
		},
		{
			name:       "status in the expression",
			query:      url.Values{"status": {"202"}},
			check:      kargoapi.HTTPCheck{SuccessExpression: `status == 202`},
			wantPassed: true,
		},
		{
			name:       "a body that is not JSON is null",
			query:      url.Values{"body": {"hello"}},
			check:      kargoapi.HTTPCheck{SuccessExpression: `body == null`},
			wantPassed: true,
		},
		{
			name:        "an expression that cannot be evaluated fails",
			query:       url.Values{"body": {`{"other":1}`}},
			check:       kargoapi.HTTPCheck{SuccessExpression: `body.status == "ok"`},
			wantMessage: `expression body.status == "ok" could not be evaluated: the response has no field that it reads`,
		},
		{
			name:        "an expression that gives no bool fails",
			query:       url.Values{"body": {`{"status":"ok"}`}},
			check:       kargoapi.HTTPCheck{SuccessExpression: `body.status`},
			wantMessage: "expression body.status gave a value of type string, not a bool",
		},
		{
			name:       "POST sends the body",
			query:      url.Values{"echo": {""}},
			check:      kargoapi.HTTPCheck{Method: "POST", Body: "ping", SuccessExpression: `body.method == "POST" && body.got == "ping"`},
			wantPassed: true,
		},
		{
			name:       "GET does not send the body",
			query:      url.Values{"echo": {""}},
			check:      kargoapi.HTTPCheck{Body: "ping", SuccessExpression: `body.method == "GET" && body.got == ""`},
			wantPassed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check.URL = s.URL + "/?" + tt.query.Encode()
			m := Measure(t.Context(), c, compile(t, tt.check), nil)
			require.NoError(t, m.Err)
			require.Equal(t, tt.wantPassed, m.Passed, m.Message)
			require.Equal(t, tt.wantMessage, m.Message)
		})
	}
}

func TestMeasureOverTLS(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	s.StartTLS()
	t.Cleanup(s.Close)
	allow(t, s)
	p := compile(t, kargoapi.HTTPCheck{URL: s.URL})

	// Without the server's certificate the handshake fails: the base
	// transport's TLS settings are what let it through.
	m := Measure(t.Context(), NewClient(ClientOptions{Egress: testEgress}), p, nil)
	require.False(t, m.Passed)
	require.Contains(t, m.Message, "certificate")

	c := NewClient(ClientOptions{Egress: testEgress, Transport: s.Client().Transport.(*http.Transport)})
	m = Measure(t.Context(), c, p, nil)
	require.True(t, m.Passed, m.Message)
}

// ticks stands in for time.After: it fires at once and records what it was
// asked to wait, interleaved with the server's requests in events.
type ticks struct {
	mu     sync.Mutex
	events []string
}

func (k *ticks) add(e string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.events = append(k.events, e)
}

func (k *ticks) tick(d time.Duration) <-chan time.Time {
	k.add("wait " + d.String())
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func TestRun(t *testing.T) {
	tests := []struct {
		name         string
		statuses     []int
		count        int32
		failureLimit int32
		interval     *metav1.Duration
		wantEvents   []string
		wantReports  []kargoapi.CheckResult
	}{
		{
			name:       "passes",
			statuses:   []int{200},
			wantEvents: []string{"request"},
			wantReports: []kargoapi.CheckResult{
				{Phase: kargoapi.VerificationPhaseSuccessful, Measurements: 1},
			},
		},
		{
			name:       "fails on status",
			statuses:   []int{500},
			count:      3,
			wantEvents: []string{"request"},
			wantReports: []kargoapi.CheckResult{
				{Phase: kargoapi.VerificationPhaseFailed, Measurements: 1, Failures: 1, Message: "status 500, want 2xx"},
			},
		},
		{
			name:         "flapping fails at the failure beyond the limit",
			statuses:     []int{500, 200, 500, 200},
			count:        4,
			failureLimit: 1,
			interval:     duration(7 * time.Second),
			wantEvents:   []string{"request", "wait 7s", "request", "wait 7s", "request"},
			wantReports: []kargoapi.CheckResult{
				{Phase: kargoapi.VerificationPhaseRunning, Measurements: 1, Failures: 1, Message: "status 500, want 2xx"},
				{Phase: kargoapi.VerificationPhaseRunning, Measurements: 2, Failures: 1, Message: "status 500, want 2xx"},
				{Phase: kargoapi.VerificationPhaseFailed, Measurements: 3, Failures: 2, Message: "status 500, want 2xx"},
			},
		},
		{
			name:         "flapping within the limit passes",
			statuses:     []int{500, 200, 500, 200},
			count:        4,
			failureLimit: 2,
			wantEvents:   []string{"request", "wait 10s", "request", "wait 10s", "request", "wait 10s", "request"},
			wantReports: []kargoapi.CheckResult{
				{Phase: kargoapi.VerificationPhaseRunning, Measurements: 1, Failures: 1, Message: "status 500, want 2xx"},
				{Phase: kargoapi.VerificationPhaseRunning, Measurements: 2, Failures: 1, Message: "status 500, want 2xx"},
				{Phase: kargoapi.VerificationPhaseRunning, Measurements: 3, Failures: 2, Message: "status 500, want 2xx"},
				{Phase: kargoapi.VerificationPhaseSuccessful, Measurements: 4, Failures: 2, Message: "status 500, want 2xx"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &ticks{}
			var n atomic.Int32
			s := serve(t, func(w http.ResponseWriter, _ *http.Request) {
				k.add("request")
				w.WriteHeader(tt.statuses[int(n.Add(1)-1)%len(tt.statuses)])
			})
			p := compile(t, kargoapi.HTTPCheck{
				Name: "flappy", URL: s.URL, Count: tt.count, FailureLimit: tt.failureLimit, Interval: tt.interval,
			})
			var reports []kargoapi.CheckResult
			got := Run(t.Context(), NewClient(ClientOptions{Egress: testEgress}), p, nil, k.tick, func(r kargoapi.CheckResult) {
				reports = append(reports, r)
			})

			for i := range tt.wantReports {
				tt.wantReports[i].Name = "flappy"
			}
			require.Equal(t, tt.wantReports, reports)
			require.Equal(t, tt.wantReports[len(tt.wantReports)-1], got)
			require.Equal(t, tt.wantEvents, k.events)
		})
	}
}

func TestRunAborted(t *testing.T) {
	t.Run("while waiting", func(t *testing.T) {
		s := serve(t, func(http.ResponseWriter, *http.Request) {})
		ctx, cancel := context.WithCancel(t.Context())
		p := compile(t, kargoapi.HTTPCheck{URL: s.URL, Count: 3})
		got := Run(ctx, NewClient(ClientOptions{Egress: testEgress}), p, nil, func(time.Duration) <-chan time.Time {
			cancel()
			return nil // never fires
		}, func(kargoapi.CheckResult) {})
		require.Equal(t, kargoapi.VerificationPhaseAborted, got.Phase)
		require.Equal(t, int32(1), got.Measurements)
	})
	t.Run("while measuring", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		s := serve(t, func(_ http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		})
		p := compile(t, kargoapi.HTTPCheck{URL: s.URL, Count: 3})
		var reports []kargoapi.CheckResult
		got := Run(ctx, NewClient(ClientOptions{Egress: testEgress}), p, nil, (&ticks{}).tick, func(r kargoapi.CheckResult) {
			reports = append(reports, r)
		})
		want := kargoapi.CheckResult{Name: "check", Phase: kargoapi.VerificationPhaseAborted}
		require.Equal(t, want, got)
		require.Equal(t, []kargoapi.CheckResult{want}, reports)
	})
}

func TestTimeoutIsAFailure(t *testing.T) {
	release := make(chan struct{})
	s := serve(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before s.Close

	p := compile(t, kargoapi.HTTPCheck{URL: s.URL, Timeout: duration(50 * time.Millisecond)})
	got := Run(t.Context(), NewClient(ClientOptions{Egress: testEgress}), p, nil, (&ticks{}).tick, func(kargoapi.CheckResult) {})
	require.Equal(t, kargoapi.CheckResult{
		Name: "check", Phase: kargoapi.VerificationPhaseFailed, Measurements: 1, Failures: 1,
		Message: "timeout after 50ms",
	}, got)
}

func TestBodySizeCap(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		_, _ = io.WriteString(w, strings.Repeat("x", n))
	})
	tests := []struct {
		name        string
		max         int64
		size        int
		wantMessage string
	}{
		{name: "at the limit", max: 1024, size: 1024},
		{name: "over the limit", max: 1024, size: 1025, wantMessage: "response larger than 1 KiB"},
		{name: "odd limit", max: 1000, size: 1001, wantMessage: "response larger than 1000 bytes"},
		{name: "at the default", size: 1 << 20},
		{name: "over the default", size: 1<<20 + 1, wantMessage: "response larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compile(t, kargoapi.HTTPCheck{URL: s.URL + "/?n=" + strconv.Itoa(tt.size)})
			m := Measure(t.Context(), NewClient(ClientOptions{Egress: testEgress, MaxBodyBytes: tt.max}), p, nil)
			require.NoError(t, m.Err)
			require.Equal(t, tt.wantMessage == "", m.Passed)
			require.Equal(t, tt.wantMessage, m.Message)
		})
	}
}

func TestRedirects(t *testing.T) {
	var otherHits atomic.Int32
	other := serve(t, func(http.ResponseWriter, *http.Request) { otherHits.Add(1) })

	var s *httptest.Server
	s = serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/start":
			http.Redirect(w, r, "/final", http.StatusFound)
		case r.URL.Path == "/final":
			_, _ = io.WriteString(w, `{"at":"final"}`)
		case r.URL.Path == "/away":
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case r.URL.Path == "/renamed":
			http.Redirect(w, r, "http://other.test:"+s.URL[strings.LastIndex(s.URL, ":")+1:]+"/final", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
			limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
			if n < limit {
				http.Redirect(w, r, fmt.Sprintf("/hop/%d?limit=%d", n+1, limit), http.StatusFound)
			}
		}
	})
	policy := egress.New(egress.Options{
		Allow:    egress.MustParseRules(s.Listener.Addr().String(), other.Listener.Addr().String()),
		Resolver: lookup(map[string]string{"other.test": "127.0.0.1"}),
	})
	c := NewClient(ClientOptions{Egress: policy})

	tests := []struct {
		name        string
		path        string
		wantMessage string
	}{
		{name: "same host is followed", path: "/start"},
		{name: "five redirects are followed", path: "/hop/0?limit=5"},
		{name: "a sixth is not", path: "/hop/0?limit=6", wantMessage: "stopped after 5 redirects"},
		{
			name:        "another port is refused",
			path:        "/away",
			wantMessage: "refused a redirect away from " + strings.TrimPrefix(s.URL, "http://") + ": only redirects to the same host and port are followed; point the check at the final URL",
		},
		{
			name:        "another name for the same server is refused",
			path:        "/renamed",
			wantMessage: "refused a redirect away from " + strings.TrimPrefix(s.URL, "http://"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compile(t, kargoapi.HTTPCheck{URL: s.URL + tt.path})
			m := Measure(t.Context(), c, p, nil)
			require.NoError(t, m.Err)
			require.Equal(t, tt.wantMessage == "", m.Passed, m.Message)
			if tt.wantMessage != "" {
				require.True(t, strings.HasPrefix(m.Message, tt.wantMessage), m.Message)
			}
		})
	}
	require.Zero(t, otherHits.Load())
}

func TestRefusedAddresses(t *testing.T) {
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(s.Close)
	port := s.URL[strings.LastIndex(s.URL, ":")+1:]
	names := map[string]string{"metadata.test": "169.254.169.254", "local.test": "127.0.0.1"}

	tests := []struct {
		name    string
		url     string
		allowed []string
		wantErr string
	}{
		{
			name:    "loopback in the url",
			url:     s.URL + "/",
			wantErr: "refused to connect to 127.0.0.1:" + port + ": it is a loopback address",
		},
		{
			name:    "name resolving to loopback",
			url:     "http://local.test:" + port + "/",
			wantErr: "refused to connect to local.test (127.0.0.1:" + port + "): it is a loopback address",
		},
		{
			name:    "metadata address in the url",
			url:     "http://169.254.169.254:" + port + "/",
			wantErr: "refused to connect to 169.254.169.254:" + port + ": it is a cloud metadata address",
		},
		{
			name:    "name resolving to the metadata address",
			url:     "http://metadata.test:" + port + "/",
			wantErr: "refused to connect to metadata.test (169.254.169.254:" + port + "): it is a cloud metadata address",
		},
		{
			name:    "IPv4-mapped loopback",
			url:     "http://[::ffff:127.0.0.1]:" + port + "/",
			wantErr: "refused to connect to ::ffff:127.0.0.1 (127.0.0.1:" + port + "): it is a loopback address",
		},
		{
			name:    "unspecified address",
			url:     "http://0.0.0.0:" + port + "/",
			wantErr: "refused to connect to 0.0.0.0:" + port + ": it is an unspecified address",
		},
		{
			name:    "allowing another port does not help",
			url:     "http://local.test:" + port + "/",
			allowed: []string{"127.0.0.1:1"},
			wantErr: "refused to connect to local.test (127.0.0.1:" + port + "): it is a loopback address",
		},
		{
			name:    "allowed name",
			url:     "http://local.test:" + port + "/",
			allowed: []string{"local.test:" + port},
		},
		{
			name:    "allowed address",
			url:     "http://local.test:" + port + "/",
			allowed: []string{"127.0.0.1:" + port},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			c := NewClient(ClientOptions{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(tt.allowed...), Resolver: lookup(names)})})
			p := compile(t, kargoapi.HTTPCheck{URL: tt.url, Timeout: duration(5 * time.Second)})

			got := Run(t.Context(), c, p, nil, (&ticks{}).tick, func(kargoapi.CheckResult) {})
			if tt.wantErr == "" {
				require.Equal(t, kargoapi.VerificationPhaseSuccessful, got.Phase, got.Message)
				require.Equal(t, int32(1), hits.Load())
				return
			}
			require.Equal(t, kargoapi.VerificationPhaseError, got.Phase)
			require.True(t, strings.HasPrefix(got.Message, tt.wantErr), got.Message)
			require.Contains(t, got.Message, "--allow-outbound")
			m := Measure(t.Context(), c, p, nil)
			require.ErrorAs(t, m.Err, new(*egress.RefusedError))
			require.Zero(t, hits.Load(), "the refused address received a request")
		})
	}
}

// A name that resolves to an allowed address for one measurement and to a
// refused one for the next is refused at the next, because the rules apply
// to each dial rather than to the URL once.
func TestDNSRebindingIsRefused(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
	})
	var lookups atomic.Int32
	c := NewClient(ClientOptions{Egress: egress.New(egress.Options{
		Allow: egress.MustParseRules(s.Listener.Addr().String()),
		Resolver: func(context.Context, string) ([]netip.Addr, error) {
			if lookups.Add(1) == 1 {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
		},
	})})
	port := s.URL[strings.LastIndex(s.URL, ":")+1:]
	p := compile(t, kargoapi.HTTPCheck{URL: "http://rebind.test:" + port + "/", Count: 3})

	var reports []kargoapi.CheckResult
	got := Run(t.Context(), c, p, nil, (&ticks{}).tick, func(r kargoapi.CheckResult) { reports = append(reports, r) })
	require.Equal(t, []kargoapi.CheckResult{
		{Name: "check", Phase: kargoapi.VerificationPhaseRunning, Measurements: 1},
		{
			Name: "check", Phase: kargoapi.VerificationPhaseError, Measurements: 1,
			Message: "refused to connect to rebind.test (169.254.169.254:" + port + "): it is a cloud metadata address, which kargo's controller does not contact unless its --allow-outbound flag allows it (such as --allow-outbound=rebind.test:" + port + ")",
		},
	}, reports)
	require.Equal(t, reports[1], got)
}

func TestResolveHeaders(t *testing.T) {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: "api"},
		Data: map[string][]byte{
			"token":     []byte("s3cret\n"), // as kubectl --from-file leaves it
			"tenant":    []byte("acme"),
			"multiline": []byte("line1\nline2"),
		},
	}
	fromSecret := func(name, key string) *kargoapi.SecretKeyRef {
		return &kargoapi.SecretKeyRef{Name: name, Key: key}
	}
	value := func(s string) *string { return &s }

	tests := []struct {
		name     string
		headers  []kargoapi.HTTPHeader
		want     map[string]string
		wantErr  string
		notFound bool
	}{
		{
			name: "values and Secrets",
			headers: []kargoapi.HTTPHeader{
				{Name: "Authorization", ValueFrom: fromSecret("api", "token")},
				{Name: "X-Tenant", ValueFrom: fromSecret("api", "tenant")},
				{Name: "X-Static", Value: value("yes")},
			},
			want: map[string]string{"Authorization": "s3cret", "X-Tenant": "acme", "X-Static": "yes"},
		},
		{
			name:     "missing Secret",
			headers:  []kargoapi.HTTPHeader{{Name: "Authorization", ValueFrom: fromSecret("missing", "token")}},
			wantErr:  "header Authorization: get Secret proj/missing: ",
			notFound: true,
		},
		{
			name:    "missing key",
			headers: []kargoapi.HTTPHeader{{Name: "Authorization", ValueFrom: fromSecret("api", "nope")}},
			wantErr: `header Authorization: Secret proj/api has no key "nope"`,
		},
		{
			name:    "value with a line break",
			headers: []kargoapi.HTTPHeader{{Name: "X-Bad", ValueFrom: fromSecret("api", "multiline")}},
			wantErr: `header X-Bad: key "multiline" of Secret proj/api holds a line break or NUL, which a header value cannot`,
		},
		{
			name:    "neither",
			headers: []kargoapi.HTTPHeader{{Name: "X-Empty"}},
			wantErr: "header X-Empty has neither value nor valueFrom; set one",
		},
		{
			name:    "both",
			headers: []kargoapi.HTTPHeader{{Name: "X-Both", Value: value("a"), ValueFrom: fromSecret("api", "token")}},
			wantErr: "header X-Both has both value and valueFrom; keep one",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gets atomic.Int32
			r := fake.NewClientBuilder().WithObjects(secret.DeepCopy()).WithInterceptorFuncs(interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					gets.Add(1)
					return c.Get(ctx, key, obj, opts...)
				},
			}).Build()
			got, err := ResolveHeaders(t.Context(), r, "proj", tt.headers)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Equal(t, tt.notFound, apierrors.IsNotFound(err))
				require.NotContains(t, err.Error(), "line1")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, int32(1), gets.Load(), "each Secret is read once")
		})
	}
}

func TestMeasureSendsHeaders(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" || r.Host != "app.example" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: "api"},
		Data:       map[string][]byte{"auth": []byte("Bearer s3cret\n")},
	}
	host := "app.example"
	headers, err := ResolveHeaders(t.Context(), fake.NewClientBuilder().WithObjects(secret).Build(), "proj", []kargoapi.HTTPHeader{
		{Name: "Authorization", ValueFrom: &kargoapi.SecretKeyRef{Name: "api", Key: "auth"}},
		{Name: "Host", Value: &host},
	})
	require.NoError(t, err)

	c := NewClient(ClientOptions{Egress: testEgress})
	p := compile(t, kargoapi.HTTPCheck{URL: s.URL, SuccessCodes: []int32{200}})
	require.Equal(t, Measurement{Message: "status 401, want 200"}, Measure(t.Context(), c, p, nil))
	require.Equal(t, Measurement{Passed: true}, Measure(t.Context(), c, p, headers))
}

// The base transport's own ways of connecting would go around the address
// rules, so the Client replaces them.
func TestBaseTransportCannotBypassRules(t *testing.T) {
	var proxied atomic.Int32
	proxy := serve(t, func(http.ResponseWriter, *http.Request) { proxied.Add(1) })
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	var tlsDials atomic.Int32
	base := &http.Transport{
		Proxy: http.ProxyURL(proxyURL),
		DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
			tlsDials.Add(1)
			return nil, fmt.Errorf("should not be called")
		},
	}
	c := NewClient(ClientOptions{Egress: testEgress, Transport: base})

	for _, u := range []string{"http://169.254.169.254/", "https://169.254.169.254/"} {
		m := Measure(t.Context(), c, compile(t, kargoapi.HTTPCheck{URL: u}), nil)
		require.ErrorAs(t, m.Err, new(*egress.RefusedError), u)
	}
	require.Zero(t, proxied.Load())
	require.Zero(t, tlsDials.Load())
}

// A check's messages land in the Stage's status, readable by everyone who
// may read the Stage; the response comes from wherever the URL points. No
// message may quote what the server sent, or a check would read, say, a
// Secret out of a service that only the controller can reach.
func TestMessagesNeverQuoteTheResponse(t *testing.T) {
	const secret = "s3cret-value-from-the-server"
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "http://"+secret+".example/"+secret, http.StatusFound)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"data":{"token":"`+secret+`"},"list":["`+secret+`"]}`)
		}
	})
	// A service that does not speak HTTP, whose first bytes net/http
	// would otherwise quote ("malformed HTTP response ...").
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	t.Cleanup(testEgress.Allow(egress.MustParseRules(raw.Addr().String())...))
	go func() {
		for {
			c, err := raw.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, secret+" banner of a non-HTTP service\r\n")
			_ = c.Close()
		}
	}()
	c := NewClient(ClientOptions{Egress: testEgress})

	tests := []struct {
		name string
		url  string
		expr string
	}{
		{name: "expression gives a string", url: s.URL, expr: "body.data.token"},
		{name: "expression gives a map", url: s.URL, expr: "body.data"},
		{name: "expression gives a list", url: s.URL, expr: "body.list"},
		{name: "expression converts the value", url: s.URL, expr: "int(body.data.token) == 1"},
		{name: "expression indexes with the value", url: s.URL, expr: "body.data[body.data.token] == 1"},
		{name: "expression compares the value with a number", url: s.URL, expr: "body.data.token > 1"},
		{name: "redirect elsewhere", url: s.URL + "/redirect"},
		{name: "not an HTTP server", url: "http://" + raw.Addr().String() + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compile(t, kargoapi.HTTPCheck{URL: tt.url, SuccessExpression: tt.expr})
			m := Measure(t.Context(), c, p, nil)
			require.NoError(t, m.Err)
			require.False(t, m.Passed)
			require.NotEmpty(t, m.Message)
			require.NotContains(t, m.Message, secret)
		})
	}
}
