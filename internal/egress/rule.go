package egress

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Rule allows connections that the policy would otherwise refuse. Exactly
// one of Prefix and Host is set; Port zero means any port.
type Rule struct {
	// Prefix is an address range; a single address is a /32 or /128.
	Prefix netip.Prefix
	// Host is a host name in lower case, matched against the name a
	// connection was asked for, whatever it resolves to.
	Host string
	// Port restricts the rule to one port when not zero.
	Port uint16
}

// String writes the rule as ParseRule reads it.
func (r Rule) String() string {
	var s string
	switch {
	case r.Host != "":
		s = r.Host
	case r.Prefix.IsSingleIP():
		s = r.Prefix.Addr().String()
	default:
		s = r.Prefix.String()
	}
	if r.Port != 0 {
		if r.Host == "" && r.Prefix.Bits() != r.Prefix.Addr().BitLen() {
			// A range with a port has no host:port spelling.
			return s + " port " + strconv.Itoa(int(r.Port))
		}
		return net.JoinHostPort(s, strconv.Itoa(int(r.Port)))
	}
	return s
}

func (r Rule) allows(host string, addr netip.AddrPort) bool {
	if r.Port != 0 && r.Port != addr.Port() {
		return false
	}
	if r.Host != "" {
		return host == r.Host
	}
	return r.Prefix.Contains(addr.Addr())
}

// hostName is a DNS name as URLs spell them.
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

// ParseRule reads one rule: an address range (10.20.0.0/16, fd12::/64),
// an address (10.0.0.5, ::1), an address and port (127.0.0.1:5000,
// [::1]:5000), or a host name with or without a port (git.corp.example,
// git.corp.example:443).
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return Rule{Prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap().WithZone("")
		return Rule{Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return Rule{}, fmt.Errorf("%q: port 0 is not a port; leave the port out to allow every port", s)
		}
		a := ap.Addr().Unmap().WithZone("")
		return Rule{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: ap.Port()}, nil
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	if !hostName.MatchString(host) {
		return Rule{}, fmt.Errorf("%q is not an address range (10.20.0.0/16), an address (10.0.0.5), an address and port (127.0.0.1:5000) or a host name with an optional port (git.example.com:443)", s)
	}
	r := Rule{Host: strings.TrimSuffix(strings.ToLower(host), ".")}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return Rule{}, fmt.Errorf("%q: port %q is not a port number", s, port)
		}
		r.Port = uint16(n)
	}
	return r, nil
}

// ParseRules reads a comma-separated list of rules, as the --allow-outbound
// flag takes them.
func ParseRules(s string) ([]Rule, error) {
	var out []Rule
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		r, err := ParseRule(part)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// MustParseRules is ParseRules for rules known to be valid, such as the
// address of a server a test or kargo local just started; it panics on an
// invalid one.
func MustParseRules(rules ...string) []Rule {
	out := make([]Rule, 0, len(rules))
	for _, s := range rules {
		r, err := ParseRule(s)
		if err != nil {
			panic(err)
		}
		out = append(out, r)
	}
	return out
}
