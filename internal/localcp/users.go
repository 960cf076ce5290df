package localcp

import (
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// usersDirName is the directory under DataDir that keeps the users'
	// tokens and kube-apiserver's token file.
	usersDirName = "users"
	// tokenExt ends the name of a user's token file, users/<name>.token.
	tokenExt = ".token"
	// tokenAuthFileName is kube-apiserver's --token-auth-file under
	// users/. A user name has no dot, so it is never taken for a token.
	tokenAuthFileName = "tokens.csv"
	// tokenBytes is how much randomness a token carries; it is kept as
	// hex.
	tokenBytes = 32
)

// reservedUsers are names a token user may not take, because they already
// name an administrator: a token user of that name would have none of the
// administrator's rights, yet look like it in audit logs and in the UI.
var reservedUsers = []string{
	"kargo-admin",       // the admin certificate of this package
	"kargo-local-admin", // the local administrator of kargo's API server
}

var validToken = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validateUsers checks names before anything starts: each must be a DNS
// label, which keeps it usable as a file name, a kubeconfig entry and a
// field of the token file, and keeps it out of the "system:" names that
// Kubernetes gives rights to.
func validateUsers(names []string) error {
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		if len(validation.IsDNS1123Label(name)) > 0 {
			return fmt.Errorf("start local control plane: user name %q is not valid: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit", name)
		}
		if slices.Contains(reservedUsers, name) {
			return fmt.Errorf("start local control plane: user name %q is reserved for the administrator", name)
		}
		if seen[name] {
			return fmt.Errorf("start local control plane: user %q is listed twice", name)
		}
		seen[name] = true
	}
	return nil
}

// loadOrCreateTokens returns the token of each of names from dir, creating
// the missing ones. A token is never replaced once created, so that
// kubeconfig files and CLI logins made with it keep working; a damaged one
// is reported rather than replaced, for the same reason.
func loadOrCreateTokens(dir string, names []string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create users dir: %w", err)
	}
	tokens := make(map[string]string, len(names))
	for _, name := range names {
		path := filepath.Join(dir, name+tokenExt)
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			token := strings.TrimSpace(string(data))
			if !validToken.MatchString(token) {
				return nil, fmt.Errorf("token of user %s in %s is not %d hex digits: delete the file to issue a new token", name, path, 2*tokenBytes)
			}
			tokens[name] = token
		case errors.Is(err, fs.ErrNotExist):
			token, err := newToken()
			if err != nil {
				return nil, err
			}
			if err := writeFileAtomic(path, []byte(token+"\n")); err != nil {
				return nil, fmt.Errorf("write token of user %s: %w", name, err)
			}
			tokens[name] = token
		default:
			return nil, fmt.Errorf("read token of user %s: %w", name, err)
		}
	}
	return tokens, nil
}

func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// tokenAuthFile renders kube-apiserver's static token file: one
// "token,user,uid" line per user, in the order of names. The groups column
// is left out rather than left empty, which kube-apiserver would read as
// one group named ""; the users get only system:authenticated, which
// kube-apiserver adds.
func tokenAuthFile(names []string, tokens map[string]string) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	for _, name := range names {
		if err := w.Write([]string{tokens[name], name, name}); err != nil {
			return nil, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("encode token file: %w", err)
	}
	return b.Bytes(), nil
}

// tokenKubeconfig renders a kubeconfig that authenticates as user with a
// bearer token.
func (c *ControlPlane) tokenKubeconfig(user, token string) ([]byte, error) {
	return kubeconfig(c.serverURL, c.pki.ca.certPEM, user, user+"@"+clusterName, &clientcmdapi.AuthInfo{Token: token})
}

// prepareUsers creates the users' tokens, writes their kubeconfig files and
// kube-apiserver's token file, and returns the token file's path. It also
// removes the kubeconfig of every user who has a token but is no longer
// among names, since the token file no longer lets that user in. The token
// itself is kept: listing the user again restores the same credentials.
func (c *ControlPlane) prepareUsers(names []string) (string, error) {
	dir := filepath.Join(c.dataDir, usersDirName)
	tokens, err := loadOrCreateTokens(dir, names)
	if err != nil {
		return "", fmt.Errorf("prepare user tokens: %w", err)
	}
	c.tokens = tokens
	for _, name := range names {
		data, err := c.tokenKubeconfig(name, tokens[name])
		if err != nil {
			return "", err
		}
		if err := writeFileAtomic(c.UserKubeconfigPath(name), data); err != nil {
			return "", fmt.Errorf("write kubeconfig for %s: %w", name, err)
		}
	}
	issued, err := filepath.Glob(filepath.Join(dir, "*"+tokenExt))
	if err != nil {
		return "", err
	}
	for _, path := range issued {
		name := strings.TrimSuffix(filepath.Base(path), tokenExt)
		if _, listed := tokens[name]; listed {
			continue
		}
		if err := os.Remove(c.UserKubeconfigPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("remove kubeconfig of former user %s: %w", name, err)
		}
	}
	data, err := tokenAuthFile(names, tokens)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, tokenAuthFileName)
	if err := writeFileAtomic(path, data); err != nil {
		return "", fmt.Errorf("write token file: %w", err)
	}
	return path, nil
}

// UserKubeconfigPath returns the path of the kubeconfig file of name, one of
// Options.Users: DataDir/kubeconfig-<name>, next to the admin's. It
// authenticates with the user's bearer token, in a context named
// <name>@kargo-local. Start rewrites it on every run with the same token,
// and removes it once name is no longer among Options.Users.
func (c *ControlPlane) UserKubeconfigPath(name string) string {
	return filepath.Join(c.dataDir, "kubeconfig-"+name)
}

// UserToken returns the bearer token of name, one of Options.Users. The token
// is created on the first start that lists the user and kept in
// DataDir/users/<name>.token, so it stays the same across restarts.
// kube-apiserver authenticates it as the user name, in no group but
// system:authenticated, so RBAC grants the user nothing until a binding
// does; a TokenReview, such as kargo's API server makes, accepts it too.
func (c *ControlPlane) UserToken(name string) (string, error) {
	token, ok := c.tokens[name]
	if !ok {
		return "", fmt.Errorf("no token for user %q: only the users in Options.Users have one", name)
	}
	return token, nil
}
