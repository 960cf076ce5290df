// Package egress is the controller's outbound address policy: the one place
// that decides which addresses a connection the controller makes on behalf
// of a user's spec may reach. Verification checks, Git (through the git
// CLI), container registries and Helm repositories all dial through a
// Policy, so a Warehouse or a Stage cannot make the controller talk to its
// own machine, its cluster's private network or a cloud metadata service.
//
// # When the check runs
//
// A Policy resolves host names itself and checks every address before it
// connects to it, and the socket is checked again just before connect(2).
// The check therefore applies after DNS: a name that resolves to 127.0.0.1
// is refused like the literal address, and a name whose answer changes
// between two requests (DNS rebinding) is judged at each dial. Redirects and
// registry token endpoints are new dials and are judged the same way.
//
// # What is refused
//
// Loopback, link-local, cloud metadata (169.254.169.254, fd00:ec2::254,
// 100.100.100.200), unspecified, multicast, broadcast and reserved
// addresses, and private ranges (RFC 1918, fc00::/7, CGNAT 100.64.0.0/10,
// the deprecated site-local fec0::/10), in any of their IPv6 spellings
// (IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d). Everything else,
// the public Internet, is allowed.
//
// Rules, given with the controller's --allow-outbound flag, allow exactly
// what they name: an address range (10.20.0.0/16), one address (10.0.0.5),
// one address and port (127.0.0.1:5000), or a host name with or without a
// port (git.corp.example:443), which allows whatever that name resolves to.
// AllowPrivate (--allow-private-outbound) allows the private ranges as a
// whole, for installations whose Git hosts and registries live on a private
// network; it never allows loopback, link-local or metadata addresses.
//
// Proxies named in the environment (HTTPS_PROXY and the like) are not used:
// a proxy resolves and connects on its own, out of the policy's reach.
//
// # Child processes
//
// git makes its own connections. Proxy is an HTTP forward proxy on loopback
// that git is pointed at (http.proxy); it dials through the Policy, so git's
// connections, redirects included, are judged like the controller's own.
// Each git invocation gets a Session with its own proxy credentials, which
// keeps other processes of the machine from using the proxy and lets the
// caller learn which address was refused, since git only says that the
// proxy answered 403.
package egress
