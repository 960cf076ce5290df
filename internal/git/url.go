package git

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/kargohq/kargo/internal/credentials"
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
}

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
	if creds != nil && creds.Username == "" && creds.Password == "" {
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
		// Username/password credentials do not apply to SSH.
		return remote{url: raw, key: "ssh://" + m[1] + strings.ToLower(m[2]) + "/" + trimRepoPath(m[3]), scheme: "ssh"}, nil
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
	if !isHTTP {
		creds = nil
	}
	host := strings.ToLower(u.Host)
	host = strings.TrimSuffix(host, map[string]string{"http": ":80", "https": ":443", "ssh": ":22", "git": ":9418"}[scheme])
	user := ""
	if !isHTTP && u.User != nil {
		user = u.User.Username() + "@"
	}
	return remote{
		url:      u.String(),
		key:      scheme + "://" + user + host + "/" + trimRepoPath(u.Path),
		creds:    creds,
		insecure: scheme == "http" && !isLoopback(u.Hostname()),
		scheme:   scheme,
	}, nil
}

// checkTransport refuses to send credentials where the network could read
// them: over plain http:// to anything but this machine.
func (r remote) checkTransport() error {
	if r.creds != nil && r.insecure {
		return fmt.Errorf("send credentials to %s: %w", r.url, sourceerr.ErrInsecureCredentials)
	}
	return nil
}

func trimRepoPath(p string) string {
	p = strings.Trim(p, "/")
	return strings.TrimSuffix(p, ".git")
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
