package httpcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// DefaultMaxBodyBytes is how much of a response body a Client reads when
// ClientOptions.MaxBodyBytes is not set.
const DefaultMaxBodyBytes int64 = 1 << 20

// maxRedirects bounds the redirects a request follows.
const maxRedirects = 5

// ClientOptions configure a Client.
type ClientOptions struct {
	// AllowedCIDRs are addresses a Client connects to even though it would
	// otherwise refuse them, such as a link-local service the operator
	// trusts.
	AllowedCIDRs []netip.Prefix
	// MaxBodyBytes is the largest response body a Client reads;
	// DefaultMaxBodyBytes when zero or negative.
	MaxBodyBytes int64
	// Transport holds base settings, such as TLS configuration, and is
	// cloned; http.DefaultTransport when nil. Its Proxy, DialContext and
	// DialTLSContext are replaced, because each would let a connection go
	// around the address rules.
	Transport *http.Transport
	// LookupIP resolves a host name to addresses; the default resolver when
	// nil. It lets tests give a name any address.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Client makes the requests of HTTP checks. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	dialer  *guardedDialer
	maxBody int64
}

// NewClient returns a Client configured by opts.
func NewClient(opts ClientOptions) *Client {
	d := &guardedDialer{
		allowed:  opts.AllowedCIDRs,
		lookupIP: opts.LookupIP,
	}
	if d.lookupIP == nil {
		d.lookupIP = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	nd := &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		// The dialer is only ever given addresses that passed the rules;
		// checking again at the socket keeps that true should another
		// path into the dialer appear.
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("parse dialed address %s: %w", address, err)
			}
			return d.check("", ap.Addr())
		},
	}
	d.dial = nd.DialContext

	// Something, such as tracing, may have replaced the default transport
	// with another type; a bare Transport stands in for it then.
	t := &http.Transport{}
	switch dt, ok := http.DefaultTransport.(*http.Transport); {
	case opts.Transport != nil:
		t = opts.Transport.Clone()
	case ok:
		t = dt.Clone()
	}
	// A proxy would make the connection to the target itself, out of reach
	// of the dialer's rules.
	t.Proxy = nil
	t.DialContext = d.DialContext
	t.DialTLSContext = nil

	maxBody := opts.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	return &Client{
		http: &http.Client{
			Transport:     t,
			CheckRedirect: checkRedirect,
		},
		dialer:  d,
		maxBody: maxBody,
	}
}

// AddressRefusedError says a Client would not connect to an address. It is
// a configuration problem: retrying does not help.
type AddressRefusedError struct {
	// Host is the name that resolved to Addr, or the address as the URL
	// wrote it; the message leaves it out when it reads the same as Addr.
	Host string
	// Addr is the refused address.
	Addr netip.Addr
	// Reason says what kind of address it is, such as "link-local".
	Reason string
}

// Error says which address was refused, what kind it is and how to allow it.
func (e *AddressRefusedError) Error() string {
	what := "address " + e.Addr.String()
	if e.Host != "" && e.Host != e.Addr.String() {
		what += " of " + e.Host
	}
	return what + " is " + e.Reason + "; allow it with --verification-allow-cidr"
}

// metadataAddrs are the instance metadata services of cloud providers that
// hand out credentials to whatever can reach them. 169.254.169.254 (AWS,
// GCP, Azure, ...) is link-local as well; fd00:ec2::254 (AWS over IPv6) and
// 100.100.100.200 (Alibaba Cloud) are not.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
}

// refusal says why addr may not be connected to, or "" when it may. It
// looks through IPv4-mapped IPv6 forms and zones, which would otherwise let
// a link-local address pass as something else.
func refusal(addr netip.Addr, allowed []netip.Prefix) string {
	addr = addr.Unmap().WithZone("")
	for _, p := range allowed {
		if p.Contains(addr) {
			return ""
		}
	}
	var reasons []string
	if addr.IsLinkLocalUnicast() {
		reasons = append(reasons, "link-local")
	}
	for _, m := range metadataAddrs {
		if addr == m {
			reasons = append(reasons, "a cloud metadata address")
		}
	}
	if addr.IsUnspecified() {
		reasons = append(reasons, "unspecified")
	}
	return strings.Join(reasons, " / ")
}

// guardedDialer resolves host names itself so that it can apply the address
// rules to each address before connecting to it.
type guardedDialer struct {
	allowed  []netip.Prefix
	lookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
	dial     func(ctx context.Context, network, address string) (net.Conn, error)
}

func (d *guardedDialer) check(host string, addr netip.Addr) error {
	if r := refusal(addr, d.allowed); r != "" {
		return &AddressRefusedError{Host: host, Addr: addr.Unmap(), Reason: r}
	}
	return nil
}

// DialContext connects to the first address of address's host that the
// rules allow. Refused addresses are skipped rather than fatal, so a name
// with one bad address among good ones still works without ever reaching
// the bad one; only when every address is refused does the dial fail with
// an AddressRefusedError.
func (d *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("split %s into host and port: %w", address, err)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		if addrs, err = d.lookupIP(ctx, host); err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", host)
		}
	}
	var refused, dialErrs []error
	for _, a := range addrs {
		if err := d.check(host, a); err != nil {
			refused = append(refused, err)
			continue
		}
		conn, err := d.dial(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		dialErrs = append(dialErrs, err)
	}
	if len(dialErrs) == 0 {
		return nil, refused[0]
	}
	return nil, errors.Join(dialErrs...)
}

// checkRedirect follows redirects only to the host of the first request, so
// that a check cannot be bounced to a service its URL does not name and its
// headers, which may carry credentials, go nowhere else.
func checkRedirect(req *http.Request, via []*http.Request) error {
	orig := via[0].URL
	if !sameHost(orig, req.URL) {
		return fmt.Errorf("refused redirect to %s: only redirects to %s are followed; point the check at the final URL",
			redact(req.URL), orig.Host)
	}
	// via holds the first request and every redirect followed so far.
	if len(via) > maxRedirects {
		return fmt.Errorf("stopped after %d redirects, at %s", maxRedirects, redact(req.URL))
	}
	return nil
}

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
