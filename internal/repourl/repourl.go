// Package repourl is the one place kargo reads repository addresses and
// decides whether two of them name the same repository: Git repositories
// (https://, http://, ssh://, git://, file:// and local paths, and git's
// scp-like user@host:path), OCI repositories (ghcr.io/org/app, nginx,
// oci://registry/path) and Helm repositories (https:// index URLs and
// oci:// references).
//
// Parse (and ParseGit, which reads host:path the way git does) takes an
// address apart into a Repo: scheme, user name, host, port and path, in the
// spelling kargo compares. Two comparisons are built on it, for two kinds of
// decision:
//
//   - Same (and Key) says whether two addresses are one repository as a user
//     means it. It errs towards "the same": scheme, userinfo, default ports,
//     a trailing ".git" or "/", a trailing "." of the host and the ASCII case
//     of host and path make no difference, and Docker Hub's names of one
//     image (nginx, docker.io/library/nginx, index.docker.io/library/nginx)
//     are one. It is for the webhook receiver (which Warehouses a push
//     concerns), the rule that two Stages never write one branch, matching
//     Freight to Stage updates and Chart.yaml dependencies, and matching Argo
//     CD Application sources to Freight. In each, a false "same" costs a
//     spare refresh, a refusal, or one more source updated in an Application
//     whose author put two spellings of one repository in it; a false
//     "different" costs a missed push, two Stages overwriting each other's
//     branch, or a promotion that fails because the Application spells its
//     repository as git@host:org/repo while the Warehouse says
//     https://host/org/repo.git. Argo CD itself compares repositories
//     case-insensitively and with or without ".git", so Same also agrees
//     with it on which source is which.
//
//   - Exact says whether two addresses send their requests to the same
//     place: the same scheme (scp-like is ssh, and oci:// is a registry
//     reference without it), the same host byte for byte once ASCII letters
//     are lower-cased, and the same port. It is for credentials, which must
//     go only to the host their Secret names: the trailing dot that Same
//     ignores, a Unicode look-alike, a host in userinfo or a percent-encoded
//     host all make another host for Exact.
//
// Neither comparison folds Unicode case or applies IDNA mappings: those
// would make the Kelvin sign (U+212A) an ASCII "k" and let
// https://\u212Aargo.example/ pass for kargo.example. A host written in
// Unicode and its xn-- (punycode) spelling are therefore two hosts to kargo;
// write one spelling everywhere.
package repourl

import (
	"errors"
	"fmt"
	"strings"
)

// Repo is a repository address taken apart.
type Repo struct {
	// Scheme is the URL's scheme in lower case: https, http, ssh (also
	// for scp-like user@host:path), git, file (also for a local path),
	// oci, or another scheme as written. It is empty for a registry
	// reference without a scheme (ghcr.io/org/app, nginx).
	Scheme string
	// User is the user name of the URL's userinfo; any password is
	// dropped. Empty when there is none.
	User string
	// Host is the host the address sends requests to, with only its
	// ASCII letters lower-cased; a trailing "." and IPv6 brackets are
	// kept. A registry reference without a host is Docker Hub's:
	// docker.io. Empty only for file addresses.
	Host string
	// Port is the port as written (digits), empty when none is.
	Port string
	// Path is the path without query or fragment, without leading and
	// trailing "/" and without a trailing ".git". Its case is kept, since
	// some servers tell owner/Repo from owner/repo. A one-element path on
	// Docker Hub gets the implied "library/".
	Path string
}

// ErrInvalid is what Parse returns for what is not a repository address.
var ErrInvalid = errors.New("not a repository address")

// Parse takes a repository address of any kind apart. Without a scheme,
// host:digits/path is a registry host with a port (localhost:5000/app), as
// OCI references read; any other host:path, and user@host:path, is git's
// scp-like form, read as ssh.
func Parse(s string) (Repo, error) { return parse(s, false) }

// ParseGit is Parse for a Git repository: without a scheme, host:path is
// always git's scp-like form, even when the path starts with digits, since
// that is how git reads git.example:2222/repo (path 2222/repo on port 22).
func ParseGit(s string) (Repo, error) { return parse(s, true) }

func parse(s string, git bool) (Repo, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Repo{}, fmt.Errorf("%w: empty", ErrInvalid)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return Repo{}, fmt.Errorf("%w: %q holds a space or control character", ErrInvalid, s)
		}
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return parseURL(s, i)
	}
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") {
		return Repo{Scheme: "file", Path: trimPath(s)}, nil
	}
	colon, slash := strings.IndexByte(s, ':'), strings.IndexByte(s, '/')
	if colon >= 0 && (slash < 0 || colon < slash) {
		if rest := s[colon+1:]; !git && isPort(rest) && !strings.Contains(s[:colon], "@") {
			return parseReference(s)
		}
		return parseSCP(s, colon)
	}
	return parseReference(s)
}

// parseURL reads scheme://[userinfo@]host[:port][/path][?query][#fragment],
// where i is the index of "://". The authority ends at the first "/", "?"
// or "#", and the host follows its last "@", as git and curl read it.
func parseURL(s string, i int) (Repo, error) {
	scheme := asciiLower(s[:i])
	if !validScheme(scheme) {
		return Repo{}, fmt.Errorf("%w: %q has no valid scheme", ErrInvalid, s)
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	r := Repo{Scheme: scheme}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		r.User, _, _ = strings.Cut(authority[:at], ":")
		authority = authority[at+1:]
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return Repo{}, fmt.Errorf("%w: %q: %w", ErrInvalid, s, err)
	}
	if host == "" && scheme != "file" {
		return Repo{}, fmt.Errorf("%w: %q has no host", ErrInvalid, s)
	}
	r.Host, r.Port = host, port
	r.Path = trimPath(tail)
	if scheme == "oci" {
		r.Path = dockerHubPath(r.Host, r.Path)
	}
	return r, nil
}

// parseSCP reads git's [user@]host:path, where colon is the index of the
// first ":". A path starting with ":" is how git spells its command
// transports (ext::sh -c ...), never a repository.
func parseSCP(s string, colon int) (Repo, error) {
	hostPart, path := s[:colon], s[colon+1:]
	if strings.HasPrefix(path, ":") {
		return Repo{}, fmt.Errorf("%w: %q is one of git's command transports", ErrInvalid, s)
	}
	r := Repo{Scheme: "ssh"}
	if at := strings.LastIndexByte(hostPart, '@'); at >= 0 {
		r.User, hostPart = hostPart[:at], hostPart[at+1:]
		if strings.ContainsAny(r.User, "?#") {
			return Repo{}, fmt.Errorf("%w: %q has no valid user name", ErrInvalid, s)
		}
	}
	host, port, err := splitHostPort(hostPart)
	if err != nil || host == "" || port != "" {
		return Repo{}, fmt.Errorf("%w: %q has no valid host", ErrInvalid, s)
	}
	r.Host, r.Path = host, trimPath(path)
	if r.Path == "" {
		return Repo{}, fmt.Errorf("%w: %q has no repository path", ErrInvalid, s)
	}
	return r, nil
}

// parseReference reads a registry reference without a scheme:
// host[:port]/path, or a Docker Hub repository (nginx, org/app) whose first
// element is no host, being neither localhost nor holding a "." or ":".
func parseReference(s string) (Repo, error) {
	if q := strings.IndexAny(s, "?#@"); q >= 0 {
		return Repo{}, fmt.Errorf("%w: %q is neither a URL nor a registry reference", ErrInvalid, s)
	}
	if trimPath(s) == "" {
		return Repo{}, fmt.Errorf("%w: %q has no repository path", ErrInvalid, s)
	}
	first, rest, hasRest := strings.Cut(s, "/")
	if !hasRest || (first != "localhost" && !strings.ContainsAny(first, ".:")) {
		return Repo{Host: dockerHub, Path: dockerHubPath(dockerHub, trimPath(s))}, nil
	}
	host, port, err := splitHostPort(first)
	if err != nil || host == "" {
		return Repo{}, fmt.Errorf("%w: %q has no valid registry host", ErrInvalid, s)
	}
	if trimPath(rest) == "" {
		return Repo{}, fmt.Errorf("%w: %q has no repository path", ErrInvalid, s)
	}
	return Repo{Host: host, Port: port, Path: dockerHubPath(host, trimPath(rest))}, nil
}

// splitHostPort splits host[:port] or [ipv6][:port], lower-casing the
// host's ASCII letters.
func splitHostPort(hp string) (host, port string, err error) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", "", errors.New("an IPv6 address without its closing ]")
		}
		host, rest := hp[:end+1], hp[end+1:]
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return "", "", fmt.Errorf("%q after the IPv6 address", rest)
		}
		port = strings.TrimPrefix(rest, ":")
		if !digits(port) && port != "" {
			return "", "", fmt.Errorf("port %q is not a number", port)
		}
		return asciiLower(host), port, nil
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		hp, port = hp[:i], hp[i+1:]
		if !digits(port) && port != "" {
			return "", "", fmt.Errorf("port %q is not a number", port)
		}
	}
	if strings.ContainsAny(hp, "[]:/?#@\\") {
		return "", "", fmt.Errorf("host %q is not a host", hp)
	}
	return asciiLower(hp), port, nil
}

// trimPath drops a query or fragment (also from an scp-like or local path,
// so that String's URL reads back the same), the leading and trailing "/"
// and a trailing ".git".
func trimPath(p string) string {
	if q := strings.IndexAny(p, "?#"); q >= 0 {
		p = p[:q]
	}
	p = strings.Trim(p, "/")
	return strings.TrimRight(strings.TrimSuffix(p, ".git"), "/")
}

// dockerHub is the host Docker names its registry by; index.docker.io and
// registry-1.docker.io are where its clients send the requests.
const dockerHub = "docker.io"

func isDockerHub(host string) bool {
	return host == dockerHub || host == "index.docker.io" || host == "registry-1.docker.io"
}

// dockerHubPath adds the "library/" Docker Hub implies for its official
// images (nginx is library/nginx).
func dockerHubPath(host, path string) string {
	if isDockerHub(host) && path != "" && !strings.Contains(path, "/") {
		return "library/" + path
	}
	return path
}

// isPort says whether rest, what follows a host's ":", is a port: digits,
// then the end or a "/".
func isPort(rest string) bool {
	port, _, _ := strings.Cut(rest, "/")
	return port != "" && digits(port)
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '+' && r != '-' && r != '.' {
			return false
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters only. strings.ToLower would turn the
// Kelvin sign into "k" and the dotted capital I into "i̇".
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// defaultPorts are the ports a scheme implies; a registry reference (no
// scheme, or oci://) speaks HTTPS.
var defaultPorts = map[string]string{"https": "443", "http": "80", "ssh": "22", "git": "9418", "oci": "443", "": "443"}

// hostPort is the host and, unless it is the scheme's default, the port;
// Docker Hub's hosts are docker.io.
func (r Repo) hostPort() string {
	host := r.Host
	if r.registry() && isDockerHub(host) {
		host = dockerHub
	}
	if r.Port == "" || r.Port == defaultPorts[r.Scheme] {
		return host
	}
	return host + ":" + r.Port
}

// registry says whether r is an OCI registry reference, with oci:// or
// without a scheme.
func (r Repo) registry() bool { return r.Scheme == "" || r.Scheme == "oci" }

// String spells r the one way kargo writes it: the scheme, the user name,
// the host, a port that is not the scheme's default and the path, such as
// ssh://git@github.com/org/app for git@GitHub.com:org/app.git, or
// docker.io/library/nginx for nginx. It never holds a password.
func (r Repo) String() string {
	var b strings.Builder
	if r.Scheme != "" {
		b.WriteString(r.Scheme + "://")
	}
	if r.User != "" {
		b.WriteString(r.User + "@")
	}
	b.WriteString(r.hostPort())
	if r.Path != "" || r.Scheme != "" {
		b.WriteString("/" + r.Path)
	}
	return b.String()
}

// Key reduces the spellings of one repository to one key, as the package
// comment says of Same: two addresses with the same key are the same
// repository. An address Parse refuses has the key "", which callers must
// not take for a repository.
func Key(s string) string {
	r, err := Parse(s)
	if err != nil {
		return ""
	}
	host := r.hostPort()
	if h, port, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host = strings.TrimSuffix(h, ".") + ":" + port
	} else {
		host = strings.TrimSuffix(host, ".")
	}
	return host + "/" + asciiLower(r.Path)
}

// Same says whether a and b name the same repository, as the package
// comment says; an address Parse refuses is the same as nothing.
func Same(a, b string) bool {
	ka := Key(a)
	return ka != "" && ka == Key(b)
}

// Exact says whether a and b name the same repository at the same place:
// the same scheme (an scp-like address is ssh, and oci:// is a registry
// reference without it), the same host (ASCII case aside; no other
// folding, and a trailing "." is another host), the same port (a scheme's
// default port written out or not) and the same path, ASCII case aside.
// User names are not compared: they choose whom to log in as, not where.
// It is the comparison for deciding where credentials go.
func Exact(a, b Repo) bool {
	return SameOrigin(a, b) && asciiLower(a.Path) == asciiLower(b.Path)
}

// SameOrigin says whether a and b send their requests to the same place:
// the same scheme, host and port, as Exact compares them.
func SameOrigin(a, b Repo) bool {
	if a.registry() != b.registry() || (!a.registry() && a.Scheme != b.Scheme) {
		return false
	}
	return a.hostPort() == b.hostPort()
}

// Origin is where r sends requests: its host and, when written, its port,
// as a credential Secret's repoURLPattern spells them (host[:port]).
func (r Repo) Origin() string {
	if r.Port == "" {
		return r.Host
	}
	return r.Host + ":" + r.Port
}

// WithoutUserinfo returns s without the user[:password]@ of a URL with a
// scheme: the URL as it names where requests go. Other addresses are
// returned as they are, trimmed of spaces.
func WithoutUserinfo(s string) string {
	s = strings.TrimSpace(s)
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		rest = rest[at+1:]
	}
	return s[:i+3] + rest
}

// SSHURL spells an scp-like Git address (git@host:org/repo.git) as the
// ssh:// URL git takes it for (ssh://git@host/org/repo.git), keeping the
// path as written; other addresses are returned as they are, trimmed of
// spaces.
func SSHURL(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "://") {
		return s
	}
	if r, err := ParseGit(s); err != nil || r.Scheme != "ssh" {
		return s
	}
	userHost, path, _ := strings.Cut(s, ":")
	return "ssh://" + userHost + "/" + strings.TrimPrefix(path, "/")
}

// OCIReference returns the registry reference an oci:// URL names, as
// registry clients take it: without the scheme and trailing "/", the rest
// as written. ok is false when u is no oci:// URL.
func OCIReference(u string) (ref string, ok bool) {
	u = strings.TrimSpace(u)
	if len(u) < len("oci://") || asciiLower(u[:len("oci://")]) != "oci://" {
		return "", false
	}
	return strings.TrimRight(u[len("oci://"):], "/"), true
}
