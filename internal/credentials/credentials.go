// Package credentials finds the credentials for a repository among the
// Secrets of a project namespace.
//
// A Secret holds credentials when it carries the label
// kargo.akuity.io/cred-type with the value git, image or helm. Its data has
// either repoURL (matched exactly, ignoring a trailing ".git" or "/") or, when
// the label kargo.akuity.io/cred-url-pattern is "true", repoURLPattern (a
// regular expression matched against the whole URL), plus username and
// password. Exact matches win over patterns; among patterns, the Secret
// whose name sorts first wins, so the choice is stable.
//
// Whoever may write a Warehouse or Stage chooses the URLs kargo fetches, and
// may hold no right to read these Secrets. So a password goes only to the
// host its Secret names: an exact repoURL names it, and a repoURLPattern
// must spell its host out literally (https://github\.com/example/.*, or
// https://github.com/example/.* with the dots unescaped, which are taken
// literally in the host) and only URLs with that very host match it. The
// pattern is matched against the URL without userinfo, so
// https://github.com:x@evil.example/ is a URL of evil.example, as git sees
// it. A pattern whose host is not spelled out (https://github\.com.*,
// https://.*\.example\.com/.*) matches nothing: a URL it would match gets
// an error that says how to fix it, and no credentials.
package credentials

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Type is the kind of repository a Secret holds credentials for.
type Type string

// The credential types.
const (
	TypeGit   Type = "git"
	TypeImage Type = "image"
	TypeHelm  Type = "helm"
)

// Labels and data keys of credential Secrets.
const (
	TypeLabelKey       = "kargo.akuity.io/cred-type"
	URLPatternLabelKey = "kargo.akuity.io/cred-url-pattern"
	RepoURLKey         = "repoURL"
	RepoURLPatternKey  = "repoURLPattern"
	UsernameKey        = "username"
	PasswordKey        = "password"
)

// Credentials are a username and a password or token. String never shows
// the password.
type Credentials struct {
	Username string
	Password string
}

// String describes the credentials without revealing the password.
func (c *Credentials) String() string {
	if c == nil {
		return "anonymous"
	}
	return "user " + c.Username
}

// GoString keeps the password out of %#v.
func (c *Credentials) GoString() string { return c.String() }

// Store looks up credentials.
type Store interface {
	// Get returns the credentials for repoURL in namespace, or nil when no
	// Secret matches.
	Get(ctx context.Context, namespace string, t Type, repoURL string) (*Credentials, error)
}

// KubernetesStore reads credential Secrets through a (usually cached)
// client.
type KubernetesStore struct {
	Client client.Reader
}

// Get implements Store.
func (s KubernetesStore) Get(ctx context.Context, namespace string, t Type, repoURL string) (*Credentials, error) {
	list := &corev1.SecretList{}
	if err := s.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{TypeLabelKey: string(t)}); err != nil {
		return nil, fmt.Errorf("list %s credential Secrets in %s: %w", t, namespace, err)
	}
	return Match(list.Items, repoURL)
}

// Match picks the Secret for repoURL among secrets, as the package comment
// describes.
func Match(secrets []corev1.Secret, repoURL string) (*Credentials, error) {
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].Name < secrets[j].Name })
	want := normalize(repoURL)
	bare, host := withoutUserinfo(repoURL), hostOf(repoURL)
	var patternMatch *corev1.Secret
	for i := range secrets {
		s := &secrets[i]
		if s.Labels[URLPatternLabelKey] == "true" {
			if patternMatch != nil {
				continue
			}
			pattern := string(s.Data[RepoURLPatternKey])
			re, err := regexp.Compile("^(?:" + pattern + ")$")
			if err != nil {
				return nil, fmt.Errorf("credential Secret %s/%s: repoURLPattern is not a regular expression: %w", s.Namespace, s.Name, err)
			}
			if !re.MatchString(bare) {
				continue
			}
			pinned, ok := patternHost(pattern)
			if !ok {
				return nil, fmt.Errorf("credential Secret %s/%s: repoURLPattern %q matches %s but does not spell out its host, so it could send the password to any host a URL names; begin it with the scheme and host, such as https://github\\.com/example/.*", s.Namespace, s.Name, pattern, bare)
			}
			if pinned == host {
				patternMatch = s
			}
			continue
		}
		if normalize(string(s.Data[RepoURLKey])) == want {
			return fromSecret(s), nil
		}
	}
	if patternMatch != nil {
		return fromSecret(patternMatch), nil
	}
	return nil, nil
}

func fromSecret(s *corev1.Secret) *Credentials {
	return &Credentials{Username: string(s.Data[UsernameKey]), Password: string(s.Data[PasswordKey])}
}

// normalize folds ASCII case only: Unicode folding would make the Kelvin
// sign of https://\u212Aargo.example match a Secret for kargo.example.
func normalize(u string) string {
	u = strings.TrimSpace(asciiLower(u))
	u = strings.TrimSuffix(u, "/")
	return strings.TrimSuffix(u, ".git")
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// withoutUserinfo removes user[:password]@ from a URL with a scheme, which
// is what git connects to once the userinfo is set aside.
func withoutUserinfo(u string) string {
	u = strings.TrimSpace(u)
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	rest := u[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		rest = rest[at+1:]
	}
	return u[:i+3] + rest
}

// hostOf returns the host[:port] a repository address sends requests to,
// in ASCII lower case: for scheme://[userinfo@]host/path the host, and for
// an image reference without a scheme its first element.
func hostOf(u string) string {
	u = withoutUserinfo(u)
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if end := strings.IndexAny(u, "/?#"); end >= 0 {
		u = u[:end]
	}
	return asciiLower(u)
}

// literalHost is a host[:port] as a pattern spells it once \. and \- are
// unescaped.
var literalHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?$`)

// patternHost returns the host a repoURLPattern spells out: the part after
// "://" (or, for image references, from the start) up to the first "/",
// when it is a plain host once \. and \- are unescaped; an unescaped dot
// there is taken as the dot it almost always means. ok is false when the
// host part holds any other regular-expression syntax.
func patternHost(pattern string) (host string, ok bool) {
	p := strings.TrimPrefix(pattern, "^")
	if i := strings.Index(p, "://"); i >= 0 {
		p = p[i+3:]
	}
	end := strings.IndexByte(p, '/')
	if end < 0 {
		return "", false
	}
	h := strings.NewReplacer(`\.`, ".", `\-`, "-").Replace(p[:end])
	h = asciiLower(h)
	if !literalHost.MatchString(h) {
		return "", false
	}
	return h, true
}
