package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// AllowFlag and AllowPrivateFlag are the controller flags that change the
// policy; refusals name them so that an operator knows what to change.
const (
	AllowFlag        = "--allow-outbound"
	AllowPrivateFlag = "--allow-private-outbound"
)

// ErrRefused is what every refusal wraps, for errors.Is.
var ErrRefused = errors.New("address refused by the outbound address policy")

// RefusedError says that the policy would not connect to an address. It is
// a configuration problem: retrying does not help until the spec or the
// controller's flags change.
type RefusedError struct {
	// Host is the name that resolved to Addr, or the address as the URL
	// wrote it.
	Host string
	// Addr is the refused address and port.
	Addr netip.AddrPort
	// Reason says what kind of address it is, such as "loopback".
	Reason string
	// Private is true when AllowPrivate would have allowed it.
	Private bool
}

// Error says what was refused, why, and which flag would allow it.
func (e *RefusedError) Error() string {
	what := e.Addr.String()
	if e.Host != "" && e.Host != e.Addr.Addr().String() {
		what = e.Host + " (" + what + ")"
	}
	msg := fmt.Sprintf("refused to connect to %s: it is %s, which kargo's controller does not contact unless its %s flag allows it (such as %s=%s)",
		what, e.Reason, AllowFlag, AllowFlag, e.suggestion())
	if e.Private {
		msg += ", or " + AllowPrivateFlag + " allows every private range"
	}
	return msg
}

// suggestion is the narrowest rule that allows this connection: the name
// and port when a name was dialed, since its address may change, else the
// address and port.
func (e *RefusedError) suggestion() string {
	port := strconv.Itoa(int(e.Addr.Port()))
	if e.Host != "" {
		if _, err := netip.ParseAddr(e.Host); err != nil {
			return net.JoinHostPort(e.Host, port)
		}
	}
	return net.JoinHostPort(e.Addr.Addr().String(), port)
}

// Is makes every RefusedError match ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Options configure a Policy.
type Options struct {
	// Allow are rules for addresses the policy would otherwise refuse.
	Allow []Rule
	// AllowPrivate allows the private ranges (RFC 1918, fc00::/7, CGNAT
	// 100.64.0.0/10), for installations whose sources are on a private
	// network. Loopback, link-local and metadata addresses stay refused.
	AllowPrivate bool
	// Resolver resolves a host name to addresses; the default resolver
	// when nil. Tests use it to give a name any address.
	Resolver func(ctx context.Context, host string) ([]netip.Addr, error)
	// DialTimeout bounds one connection attempt; 30 s when zero.
	DialTimeout time.Duration
}

// Policy decides which addresses outbound connections may reach and makes
// those connections. Its rules can grow while it is in use (kargo local
// allows its demo's sources once they listen); it is safe for concurrent
// use.
type Policy struct {
	allowPrivate bool
	resolve      func(ctx context.Context, host string) ([]netip.Addr, error)
	dialTimeout  time.Duration

	mu    sync.RWMutex
	rules map[int]Rule
	next  int

	proxyOnce sync.Once
	proxy     *Proxy
	proxyErr  error
}

// New returns a Policy configured by opts.
func New(opts Options) *Policy {
	p := &Policy{
		allowPrivate: opts.AllowPrivate,
		resolve:      opts.Resolver,
		dialTimeout:  opts.DialTimeout,
		rules:        map[int]Rule{},
	}
	if p.resolve == nil {
		p.resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if p.dialTimeout <= 0 {
		p.dialTimeout = 30 * time.Second
	}
	p.Allow(opts.Allow...)
	return p
}

// Allow adds rules and returns a function that removes them again; tests
// allow exactly the servers they start, for as long as they run.
func (p *Policy) Allow(rules ...Rule) (revoke func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]int, 0, len(rules))
	for _, r := range rules {
		p.next++
		p.rules[p.next] = r
		ids = append(ids, p.next)
	}
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, id := range ids {
			delete(p.rules, id)
		}
	}
}

// Rules returns the rules in force, for messages and tests.
func (p *Policy) Rules() []Rule {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]Rule, 0, len(p.rules))
	for _, r := range p.rules {
		out = append(out, r)
	}
	return out
}

// Check returns a *RefusedError when the policy refuses to connect to addr
// (port included) reached through the name host, which is "" or the
// address itself when no name was involved.
func (p *Policy) Check(host string, addr netip.AddrPort) error {
	ip := addr.Addr().Unmap().WithZone("")
	addr = netip.AddrPortFrom(ip, addr.Port())
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	p.mu.RLock()
	for _, r := range p.rules {
		if r.allows(host, addr) {
			p.mu.RUnlock()
			return nil
		}
	}
	p.mu.RUnlock()
	reason, private := classify(ip)
	if reason == "" || (private && p.allowPrivate) {
		return nil
	}
	return &RefusedError{Host: host, Addr: addr, Reason: reason, Private: private}
}

// DialContext connects to address (host:port) like net.Dialer.DialContext,
// to the first of the host's addresses that the policy allows. Refused
// addresses are skipped rather than fatal, so a name with one bad address
// among good ones still works without ever reaching the bad one; only when
// every address is refused does it fail, with the first *RefusedError.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("dial %s %s: only TCP connections are made", network, address)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s: port %q is not a number", address, portStr)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		if addrs, err = p.resolve(ctx, host); err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", host)
		}
	}
	var refused, dialErrs []error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a.Unmap(), uint16(port))
		if err := p.Check(host, ap); err != nil {
			refused = append(refused, err)
			continue
		}
		d := net.Dialer{
			Timeout:   p.dialTimeout,
			KeepAlive: 30 * time.Second,
			// The address passed the rules above; checking the socket's
			// own address once more keeps that true should another path
			// into the dialer ever appear.
			Control: func(_, dialed string, _ syscall.RawConn) error {
				got, err := netip.ParseAddrPort(dialed)
				if err != nil {
					return fmt.Errorf("parse dialed address %s: %w", dialed, err)
				}
				return p.Check(host, got)
			},
		}
		conn, err := d.DialContext(ctx, network, ap.String())
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

// Transport returns a copy of base (http.DefaultTransport when nil) that
// dials through the policy. Its proxy settings are dropped, since a proxy
// would make the connection to the target itself, out of the policy's
// reach.
func (p *Policy) Transport(base *http.Transport) *http.Transport {
	var t *http.Transport
	switch dt, ok := http.DefaultTransport.(*http.Transport); {
	case base != nil:
		t = base.Clone()
	case ok:
		t = dt.Clone()
	default:
		// Something, such as tracing, replaced the default transport
		// with another type.
		t = &http.Transport{}
	}
	t.Proxy = nil
	t.OnProxyConnectResponse = nil
	t.DialContext = p.DialContext
	//nolint:staticcheck // Dial is deprecated, but would still win over DialContext if set.
	t.Dial = nil
	t.DialTLSContext = nil
	//nolint:staticcheck // as Dial
	t.DialTLS = nil
	return t
}

// Close stops the policy's Proxy, if it was started.
func (p *Policy) Close() error {
	// A proxy that was never started is never started after Close.
	p.proxyOnce.Do(func() {})
	if p.proxy != nil {
		return p.proxy.close()
	}
	return nil
}

// classify says what kind of refused address ip is ("" for a public one),
// and whether AllowPrivate would allow it.
func classify(ip netip.Addr) (reason string, private bool) {
	if ip.Is6() {
		// NAT64 hands the embedded IPv4 address to the gateway's network.
		for _, nat64 := range nat64Prefixes {
			if nat64.Contains(ip) {
				b := ip.As16()
				return classify(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
			}
		}
	}
	for _, m := range metadataAddrs {
		if ip == m {
			return "a cloud metadata address", false
		}
	}
	switch {
	case ip.IsUnspecified():
		return "an unspecified address", false
	case ip.IsLoopback():
		return "a loopback address", false
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address", false
	case ip.IsMulticast():
		return "a multicast address", false
	}
	for _, r := range reserved {
		if r.Contains(ip) {
			return "a reserved address", false
		}
	}
	if ip.IsPrivate() {
		return "a private address", true
	}
	for _, r := range privateExtra {
		if r.Contains(ip) {
			return "a private address", true
		}
	}
	return "", false
}

// metadataAddrs are the instance metadata services of cloud providers, which
// hand out credentials to whatever can reach them. 169.254.169.254 (AWS,
// GCP, Azure, ...) is link-local as well; fd00:ec2::254 (AWS over IPv6) and
// 100.100.100.200 (Alibaba Cloud) would otherwise pass as private, and must
// stay refused when private ranges are allowed.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
}

var (
	nat64Prefixes = []netip.Prefix{
		netip.MustParsePrefix("64:ff9b::/96"),
		netip.MustParsePrefix("64:ff9b:1::/48"),
	}
	// reserved are ranges no public service lives in.
	reserved = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),   // "this network"
		netip.MustParsePrefix("240.0.0.0/4"), // reserved, and the broadcast address
	}
	// privateExtra are private ranges that netip.Addr.IsPrivate (RFC 1918,
	// fc00::/7) leaves out.
	privateExtra = []netip.Prefix{
		netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT, also used by some clusters
		netip.MustParsePrefix("fec0::/10"),     // deprecated site-local
	}
)
