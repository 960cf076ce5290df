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
	var patternMatch *corev1.Secret
	for i := range secrets {
		s := &secrets[i]
		if s.Labels[URLPatternLabelKey] == "true" {
			if patternMatch != nil {
				continue
			}
			re, err := regexp.Compile("^(?:" + string(s.Data[RepoURLPatternKey]) + ")$")
			if err != nil {
				return nil, fmt.Errorf("credential Secret %s/%s: repoURLPattern is not a regular expression: %w", s.Namespace, s.Name, err)
			}
			if re.MatchString(repoURL) {
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

func normalize(u string) string {
	u = strings.TrimSpace(strings.ToLower(u))
	u = strings.TrimSuffix(u, "/")
	return strings.TrimSuffix(u, ".git")
}
