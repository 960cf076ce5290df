package image

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// IsLoopback reports whether host (a hostname or IP, optionally with a
// port) names this machine. Only such hosts may be reached over plain
// HTTP: traffic to them never crosses a network.
func IsLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// plainHTTPGuard refuses plain-HTTP requests to hosts other than loopback.
// go-containerregistry falls back to http:// for private (RFC 1918) and
// .local registries; kargo does not, because a registry answer over plain
// HTTP can be forged by anyone on the path, and credentials sent over it
// can be read.
type plainHTTPGuard struct {
	next     http.RoundTripper
	hasCreds bool
}

func (g *plainHTTPGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !IsLoopback(req.URL.Host) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		if g.hasCreds || req.Header.Get("Authorization") != "" {
			return nil, fmt.Errorf("connect to %s: %w", req.URL.Host, sourceerr.ErrInsecureCredentials)
		}
		return nil, fmt.Errorf("connect to %s: plain http:// is used only for registries on loopback; the registry must serve https://", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

// defaultTransport is http.DefaultTransport with bounds on the phases of a
// request that a stuck registry could otherwise hold open forever.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.MaxIdleConnsPerHost = 16
	return t
}

// skipVerify returns a transport like base that does not verify server
// certificates. Only an *http.Transport can be adjusted (a clone keeps its
// policy dialer); any other base is replaced by the default transport
// dialing through policy, since a custom RoundTripper's TLS settings cannot
// be reached.
func skipVerify(base http.RoundTripper, policy *egress.Policy) http.RoundTripper {
	t, ok := base.(*http.Transport)
	if ok {
		t = t.Clone()
	} else {
		t = policy.Transport(defaultTransport())
	}
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // the subscription asked for it
	return t
}
