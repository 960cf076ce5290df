// Package repourl says whether two repository addresses name the same
// repository: the one place kargo decides it, for the webhook receiver
// (which Warehouses a push concerns) and for the rule that two Stages never
// write the same branch of one repository.
package repourl

import "strings"

// Key reduces the spellings of one repository to one key: scheme, userinfo,
// a trailing ".git" or "/", letter case, and Docker Hub's implied host and
// "library/" are dropped, and scp-like Git addresses (git@host:path) become
// host/path. Two addresses with the same key are the same repository.
//
// Key errs towards "the same": paths lose their case although some Git
// servers tell owner/Repo from owner/repo, and http:// and https:// of one
// host are one repository. Callers use it to find every Warehouse a push
// may concern and to refuse two writers of one branch, where a false
// "same" costs a spare refresh or a refusal, and a false "different" a
// missed push or two Stages overwriting each other.
func Key(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	for _, scheme := range []string{"https://", "http://", "ssh://", "git://", "oci://"} {
		u = strings.TrimPrefix(u, scheme)
	}
	if at := strings.Index(u, "@"); at >= 0 && at < strings.IndexAny(u+"/", "/") {
		u = u[at+1:]
		if colon := strings.Index(u, ":"); colon >= 0 && !isPort(u[colon+1:]) {
			u = u[:colon] + "/" + u[colon+1:]
		}
	}
	u = strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
	for _, hub := range []string{"docker.io/", "index.docker.io/", "registry-1.docker.io/"} {
		u = strings.TrimPrefix(u, hub)
	}
	if !strings.Contains(u, "/") || (!strings.ContainsAny(strings.SplitN(u, "/", 2)[0], ".:") && strings.HasPrefix(u, "library/")) {
		u = strings.TrimPrefix(u, "library/")
	}
	return u
}

// Same says whether a and b name the same repository.
func Same(a, b string) bool { return Key(a) == Key(b) }

func isPort(rest string) bool {
	end := strings.IndexByte(rest, '/')
	if end <= 0 {
		return false
	}
	for _, r := range rest[:end] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
