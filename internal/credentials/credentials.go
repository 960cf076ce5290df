// Package credentials finds the credentials for a repository among the
// Secrets of a project namespace.
//
// A Secret holds credentials when it carries the label
// kargo.akuity.io/cred-type with the value git, image or helm. Its data has
// either repoURL or, when the label kargo.akuity.io/cred-url-pattern is
// "true", repoURLPattern (a regular expression matched against the whole
// URL), plus username and password. A repoURL matches the URLs of the same repository at the same
// place (repourl.Exact): the same scheme (scp-like is ssh; oci:// and a
// registry reference without a scheme are one), the same host once ASCII
// letters are lower-cased and nothing else (no Unicode folding, and
// git.example. is not git.example), the same port (a default port written
// out or not), the same path ignoring ASCII case, a trailing ".git" or "/",
// and any user name; Docker Hub's names (nginx, docker.io/library/nginx,
// index.docker.io/library/nginx) are one. Exact matches win over patterns;
// among patterns, the Secret whose name sorts first wins, so the choice is
// stable.
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
//
// # SSH
//
// For ssh:// and scp-like (git@host:org/repo.git) Git URLs a git Secret
// holds sshPrivateKey (an unencrypted private key, OpenSSH or PEM) and
// knownHosts (lines in OpenSSH's known_hosts format). kargo verifies the
// host's key against knownHosts and refuses hosts it does not list: there
// is no trust on first use. scp-like URLs are matched as
// ssh://host/path, so that a repoURL of either spelling, and a
// repoURLPattern such as ssh://github\.com/example/.*, cover both.
//
// # GitHub Apps
//
// A git Secret may hold githubAppID, githubAppInstallationID and
// githubAppPrivateKey (the App's PEM key) instead of a password, and
// optionally githubAppBaseURL, the REST API of a GitHub Enterprise Server
// (https://api.github.com when empty). The store then exchanges them for an
// installation access token (see package githubapp), used as the password
// of the user x-access-token. Tokens are cached until shortly before they
// expire.
package credentials

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/repourl"
)

// Type is the kind of repository a Secret holds credentials for.
type Type string

// The credential types.
const (
	TypeGit   Type = "git"
	TypeImage Type = "image"
	TypeHelm  Type = "helm"
)

// Data keys of credential Secrets (their labels are kargoapi.CredentialTypeLabelKey
// and kargoapi.CredentialURLPatternLabelKey).
const (
	RepoURLKey        = "repoURL"
	RepoURLPatternKey = "repoURLPattern"
	UsernameKey       = "username"
	PasswordKey       = "password"
	SSHPrivateKeyKey  = "sshPrivateKey"
	KnownHostsKey     = "knownHosts"

	GitHubAppIDKey             = "githubAppID"
	GitHubAppInstallationIDKey = "githubAppInstallationID"
	GitHubAppPrivateKeyKey     = "githubAppPrivateKey"
	GitHubAppBaseURLKey        = "githubAppBaseURL"
)

// GitHubApp identifies a GitHub App installation whose access tokens
// authenticate to Git over HTTPS.
type GitHubApp struct {
	// AppID is the App's numeric ID (or its client ID), the JWT's issuer.
	AppID string
	// InstallationID is the installation in the account that owns the
	// repositories.
	InstallationID string
	// PrivateKey is the App's PEM-encoded RSA private key.
	PrivateKey []byte
	// BaseURL is the REST API's root, https://api.github.com when empty.
	BaseURL string
}

// String names the installation without the key.
func (a GitHubApp) String() string {
	return "GitHub App " + a.AppID + " installation " + a.InstallationID
}

// GoString keeps the key out of %#v.
func (a GitHubApp) GoString() string { return a.String() }

// GitHubAppTokens exchanges a GitHub App's credentials for an installation
// access token.
type GitHubAppTokens interface {
	Token(ctx context.Context, app GitHubApp) (string, error)
}

// Credentials are a username and a password or token, for HTTPS, and a
// private key with the host keys to trust, for SSH. String never shows a
// secret.
type Credentials struct {
	Username string
	Password string
	// SSHPrivateKey is a private key for git over SSH; nil when the Secret
	// has none.
	SSHPrivateKey []byte
	// KnownHosts are the host keys SSH trusts, in known_hosts format.
	KnownHosts []byte
	// GitHubApp, when not nil, is what Password was obtained from.
	GitHubApp *GitHubApp
}

// String describes the credentials without revealing the password or key.
func (c *Credentials) String() string {
	switch {
	case c == nil:
		return "anonymous"
	case c.GitHubApp != nil:
		return c.GitHubApp.String()
	case len(c.SSHPrivateKey) > 0 && c.Username == "":
		return "an SSH key"
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
	// GitHubApps exchanges GitHub App credentials for installation tokens;
	// when nil, Secrets with GitHub App credentials are an error.
	GitHubApps GitHubAppTokens
}

// Get implements Store.
func (s KubernetesStore) Get(ctx context.Context, namespace string, t Type, repoURL string) (*Credentials, error) {
	list := &corev1.SecretList{}
	if err := s.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{kargoapi.CredentialTypeLabelKey: string(t)}); err != nil {
		return nil, fmt.Errorf("list %s credential Secrets in %s: %w", t, namespace, err)
	}
	c, err := match(list.Items, repoURL, t == TypeGit)
	if err != nil || c == nil || c.GitHubApp == nil {
		return c, err
	}
	if s.GitHubApps == nil {
		return nil, fmt.Errorf("credentials for %s are a GitHub App's, which this controller cannot exchange for tokens", repoURL)
	}
	token, err := s.GitHubApps.Token(ctx, *c.GitHubApp)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repoURL, err)
	}
	c.Username, c.Password = "x-access-token", token
	return c, nil
}

// Match picks the Secret for repoURL among secrets, as the package comment
// describes.
func Match(secrets []corev1.Secret, repoURL string) (*Credentials, error) {
	return match(secrets, repoURL, false)
}

// MatchGit is Match for a Git repository, whose addresses are read as git
// reads them (repourl.ParseGit): scp-like ones are matched against patterns
// as the ssh:// URLs they stand for.
func MatchGit(secrets []corev1.Secret, repoURL string) (*Credentials, error) {
	return match(secrets, repoURL, true)
}

// match compares exact repoURLs with repoURL (repourl.Exact) and patterns
// with repoURL without userinfo, scp-like addresses spelled as ssh:// URLs
// for git. An address that is none gets no credentials.
func match(secrets []corev1.Secret, repoURL string, git bool) (*Credentials, error) {
	parse, matchURL := repourl.Parse, repoURL
	if git {
		parse, matchURL = repourl.ParseGit, repourl.SSHURL(repoURL)
	}
	want, err := parse(repoURL)
	if err != nil {
		return nil, nil
	}
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].Name < secrets[j].Name })
	bare, host := repourl.WithoutUserinfo(matchURL), want.Origin()
	var patternMatch *corev1.Secret
	for i := range secrets {
		s := &secrets[i]
		if s.Labels[kargoapi.CredentialURLPatternLabelKey] == "true" {
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
		if named, err := parse(string(s.Data[RepoURLKey])); err == nil && repourl.Exact(named, want) {
			return fromSecret(s), nil
		}
	}
	if patternMatch != nil {
		return fromSecret(patternMatch), nil
	}
	return nil, nil
}

func fromSecret(s *corev1.Secret) *Credentials {
	c := &Credentials{
		Username:      string(s.Data[UsernameKey]),
		Password:      string(s.Data[PasswordKey]),
		SSHPrivateKey: s.Data[SSHPrivateKeyKey],
		KnownHosts:    s.Data[KnownHostsKey],
	}
	if id := strings.TrimSpace(string(s.Data[GitHubAppIDKey])); id != "" {
		c.GitHubApp = &GitHubApp{
			AppID:          id,
			InstallationID: strings.TrimSpace(string(s.Data[GitHubAppInstallationIDKey])),
			PrivateKey:     s.Data[GitHubAppPrivateKeyKey],
			BaseURL:        strings.TrimSpace(string(s.Data[GitHubAppBaseURLKey])),
		}
	}
	return c
}

// literalHost is a host[:port] as a pattern spells it once \. and \- are
// unescaped: ASCII only, so that lower-casing it folds nothing else.
var literalHost = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]+)?$`)

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
	if !literalHost.MatchString(h) {
		return "", false
	}
	return strings.ToLower(h), true
}
