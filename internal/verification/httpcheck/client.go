package httpcheck

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/kargohq/kargo/internal/egress"
)

// DefaultMaxBodyBytes is how much of a response body a Client reads when
// ClientOptions.MaxBodyBytes is not set.
const DefaultMaxBodyBytes int64 = 1 << 20

// maxRedirects bounds the redirects a request follows.
const maxRedirects = 5

// ClientOptions configure a Client.
type ClientOptions struct {
	// Egress is the outbound address policy every connection goes
	// through; nil means egress.New with no rules, which reaches public
	// addresses only.
	Egress *egress.Policy
	// MaxBodyBytes is the largest response body a Client reads;
	// DefaultMaxBodyBytes when zero or negative.
	MaxBodyBytes int64
	// Transport holds base settings, such as TLS configuration, and is
	// cloned; http.DefaultTransport when nil. Its Proxy, DialContext and
	// DialTLSContext are replaced, because each would let a connection go
	// around the address policy.
	Transport *http.Transport
}

// Client makes the requests of HTTP checks. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	maxBody int64
}

// NewClient returns a Client configured by opts.
func NewClient(opts ClientOptions) *Client {
	policy := opts.Egress
	if policy == nil {
		policy = egress.New(egress.Options{})
	}
	maxBody := opts.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	return &Client{
		http: &http.Client{
			Transport:     policy.Transport(opts.Transport),
			CheckRedirect: checkRedirect,
		},
		maxBody: maxBody,
	}
}

// checkRedirect follows redirects only to the host of the first request, so
// that a check cannot be bounced to a service its URL does not name and its
// headers, which may carry credentials, go nowhere else.
func checkRedirect(req *http.Request, via []*http.Request) error {
	orig := via[0].URL
	if !sameHost(orig, req.URL) {
		return &redirectError{msg: "refused a redirect away from " + orig.Host + ": only redirects to the same host and port are followed; point the check at the final URL"}
	}
	// via holds the first request and every redirect followed so far.
	if len(via) > maxRedirects {
		return &redirectError{msg: fmt.Sprintf("stopped after %d redirects", maxRedirects)}
	}
	return nil
}

// redirectError says why a redirect was not followed. It does not quote
// the redirect's target: that came from the server, and the message goes
// into the Stage's status.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// sameHost says whether to is on the host and port of from. Going from
// https to http is refused even then, as it would send the headers in the
// clear.
func sameHost(from, to *url.URL) bool {
	if from.Scheme == "https" && to.Scheme != "https" {
		return false
	}
	return strings.EqualFold(from.Hostname(), to.Hostname()) && effectivePort(from) == effectivePort(to)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// redact drops any userinfo from u so a message never shows credentials.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// bodyTooLargeError says a response body was larger than a Client reads.
type bodyTooLargeError struct{ limit int64 }

func (e *bodyTooLargeError) Error() string {
	return "response larger than " + formatSize(e.limit)
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// response is what a measurement judges.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and reads the whole response, refusing a body larger than
// the Client's limit rather than judging part of it.
func (c *Client) do(req *http.Request) (*response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if n > c.maxBody {
		return nil, &bodyTooLargeError{limit: c.maxBody}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}, nil
}
