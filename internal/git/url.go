package git

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// remote is a repository URL made safe to use: userinfo moved out of the URL
// into credentials, a normalized key for sharing, and the credentials
// checked against the scheme.
type remote struct {
	// url is what git is given: the subscription's URL without userinfo.
	url string
	// key identifies the repository whatever its spelling (case of scheme
	// and host, a trailing ".git" or "/").
	key string
	// creds are sent only to http(s) URLs; nil means anonymous.
	creds *credentials.Credentials
	// insecure is true for plain http:// to a host that is not loopback.
	insecure bool
	// scheme is https, http, ssh (also for the scp-like form), git or file.
	scheme string
	// ssh is where an ssh remote lives; nil for other schemes.
	ssh *sshAddr
}

// sshAddr is an SSH remote taken apart: git is pointed at a tunnel on
// loopback instead of the host (see ssh.go), so it never dials by itself.
type sshAddr struct {
	user, host, port string
	// path is what git asks the server for: absolute, or "~/..." for an
	// scp-like path relative to the user's home.
	path string
}

// sshUser is a user name that cannot be taken for an ssh option.
var sshUser = regexp.MustCompile(`^[A-Za-z0-9._][A-Za-z0-9._-]*$`)

// sshHost is a host name or IPv4 address that cannot be taken for an
// option.
var sshHost = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)

// scpLike matches the user@host:path form that git accepts for SSH.
// The path may not start with a colon, which is how git spells its
// command-running transports ("ext::sh -c ...", "fd::").
var scpLike = regexp.MustCompile(`^([A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+):([^/:].*|/.*)$`)

// UserinfoRefusal says why a repository URL with credentials in it is
// refused, and where credentials go instead.
const UserinfoRefusal = "repoURL must not hold credentials (user:password@ or a token before @); put them in a git credential Secret of the project (labelled kargo.akuity.io/cred-type: git) whose repoURL matches"

// parseRemote validates repoURL and decides which credentials to send.
// Credentials embedded in an http(s) URL are refused.
func parseRemote(repoURL string, creds *credentials.Credentials) (remote, error) {
	if creds != nil && creds.Username == "" && creds.Password == "" && len(creds.SSHPrivateKey) == 0 {
		creds = nil
	}
	raw := strings.TrimSpace(repoURL)
	if raw == "" {
		return remote{}, fmt.Errorf("parse repoURL: %w: repoURL is empty", sourceerr.ErrInvalid)
	}
	if !strings.Contains(raw, "://") {
		m := scpLike.FindStringSubmatch(raw)
		if m == nil {
			return remote{}, fmt.Errorf("parse repoURL %q: %w: use a URL such as https://host/org/repo.git or git@host:org/repo.git", Redact(raw), sourceerr.ErrInvalid)
		}
		path := m[3]
		if !strings.HasPrefix(path, "/") {
			path = "~/" + path
		}
		addr := &sshAddr{user: strings.TrimSuffix(m[1], "@"), host: strings.ToLower(m[2]), port: "22", path: path}
		if err := addr.check(raw); err != nil {
			return remote{}, err
		}
		key, err := repoKey(raw)
		if err != nil {
			return remote{}, err
		}
		return remote{url: raw, key: key, scheme: "ssh", ssh: addr, creds: sshCreds(creds)}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return remote{}, fmt.Errorf("parse repoURL %s: %w: not a URL", Redact(raw), sourceerr.ErrInvalid)
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "http", "https", "ssh", "git", "file":
	default:
		return remote{}, fmt.Errorf("parse repoURL %s: %w: scheme %q is not one of https, http, ssh, git, file", Redact(raw), sourceerr.ErrInvalid, u.Scheme)
	}
	isHTTP := scheme == "http" || scheme == "https"
	if isHTTP && u.User != nil {
		// A user name, a password or a token before "@" would sit in
		// the spec for every reader of the object, in the Freight that
		// copies the URL, and in every message that names it. The API
		// refuses such URLs; this refuses those stored before it did.
		u.User = nil
		return remote{}, fmt.Errorf("parse repoURL %s: %w: %s", u.String(), sourceerr.ErrInvalid, UserinfoRefusal)
	}
	var addr *sshAddr
	switch {
	case scheme == "ssh":
		addr = &sshAddr{host: strings.ToLower(u.Hostname()), port: u.Port(), path: u.EscapedPath()}
		if u.User != nil {
			if _, hasPassword := u.User.Password(); hasPassword {
				u.User = url.User(u.User.Username())
				return remote{}, fmt.Errorf("parse repoURL %s: %w: %s", u.String(), sourceerr.ErrInvalid, UserinfoRefusal)
			}
			addr.user = u.User.Username()
		}
		if addr.port == "" {
			addr.port = "22"
		}
		if p, err := url.PathUnescape(addr.path); err == nil {
			addr.path = p
		}
		if err := addr.check(raw); err != nil {
			return remote{}, err
		}
		creds = sshCreds(creds)
	case !isHTTP:
		creds = nil
	case creds != nil && creds.Username == "" && creds.Password == "":
		// An SSH key says nothing to an HTTPS host.
		creds = nil
	case creds != nil:
		creds = &credentials.Credentials{Username: creds.Username, Password: creds.Password, GitHubApp: creds.GitHubApp}
	}
	key, err := repoKey(raw)
	if err != nil {
		return remote{}, err
	}
	return remote{
		url:      u.String(),
		key:      key,
		creds:    creds,
		insecure: scheme == "http" && !isLoopback(u.Hostname()),
		scheme:   scheme,
		ssh:      addr,
	}, nil
}

// sshCreds keeps what SSH uses of creds: the key and the host keys. A
// Secret's password never goes to an SSH server.
func sshCreds(creds *credentials.Credentials) *credentials.Credentials {
	if creds == nil || len(creds.SSHPrivateKey) == 0 {
		return nil
	}
	return &credentials.Credentials{SSHPrivateKey: creds.SSHPrivateKey, KnownHosts: creds.KnownHosts}
}

// check refuses the parts of an SSH address that ssh could read as an
// option, or that the tunnel could not dial.
func (a *sshAddr) check(raw string) error {
	switch {
	case a.user != "" && !sshUser.MatchString(a.user):
		return fmt.Errorf("parse repoURL %q: %w: the user name %q is not a plain user name", Redact(raw), sourceerr.ErrInvalid, a.user)
	case !sshHost.MatchString(a.host):
		return fmt.Errorf("parse repoURL %q: %w: the host %q is not a host name or IPv4 address", Redact(raw), sourceerr.ErrInvalid, a.host)
	case a.path == "" || a.path == "/" || strings.ContainsAny(a.path, "\x00\n"):
		return fmt.Errorf("parse repoURL %q: %w: no repository path", Redact(raw), sourceerr.ErrInvalid)
	}
	if p, err := strconv.Atoi(a.port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("parse repoURL %q: %w: port %q is not a port", Redact(raw), sourceerr.ErrInvalid, a.port)
	}
	return nil
}

// checkTransport refuses to send credentials where the network could read
// them: over plain http:// to anything but this machine.
func (r remote) checkTransport() error {
	if r.creds != nil && r.insecure {
		return fmt.Errorf("send credentials to %s: %w", r.url, sourceerr.ErrInsecureCredentials)
	}
	return nil
}

// repoKey is the repository's one spelling (repourl.Repo.String): clones
// and branch locks are shared by the spellings of one repository at one
// place, and never across path case, schemes or users, which may be other
// repositories or other rights.
func repoKey(raw string) (string, error) {
	r, err := repourl.ParseGit(raw)
	if err != nil {
		return "", fmt.Errorf("parse repoURL %q: %w: %w", Redact(raw), sourceerr.ErrInvalid, err)
	}
	return r.String(), nil
}

// isLoopback reports whether host can only be reached on this machine, the
// one place where plain-http credentials are accepted.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// urlWithUserinfo matches the userinfo of URLs inside free text, such as
// git's own error messages.
var urlWithUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'"]*@`)

// Redact removes userinfo (user:password@) from every URL in s, so that s
// can be logged or put in a condition message.
func Redact(s string) string {
	return urlWithUserinfo.ReplaceAllString(s, "$1")
}
