package argocd

import "strings"

// sameRepo says whether two repository URLs name the same repository, as
// users write them in different places: with or without a trailing slash or
// ".git", and with the host in any case. Paths keep their case, since Git
// servers may tell owner/Repo from owner/repo.
func sameRepo(a, b string) bool { return normalizeRepoURL(a) == normalizeRepoURL(b) }

func normalizeRepoURL(u string) string {
	u = strings.TrimSpace(u)
	u = strings.TrimRight(u, "/")
	u = strings.TrimSuffix(u, ".git")
	u = strings.TrimRight(u, "/")
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		return strings.ToLower(u[:i+3]) + lowerHost(rest[:end]) + rest[end:]
	}
	// scp-like Git address: [user@]host:path.
	if i := strings.IndexByte(u, ':'); i >= 0 && !strings.Contains(u[:i], "/") {
		return lowerHost(u[:i]) + u[i:]
	}
	return u
}

// lowerHost lowercases the host of an authority, leaving any userinfo as it
// is: user names may be case-sensitive.
func lowerHost(authority string) string {
	at := strings.LastIndexByte(authority, '@')
	return authority[:at+1] + strings.ToLower(authority[at+1:])
}

// sameChartRepo is sameRepo for Helm chart repositories, where Argo CD
// writes OCI registries without the oci:// scheme that Freight records.
func sameChartRepo(a, b string) bool {
	return sameRepo(strings.TrimPrefix(a, "oci://"), strings.TrimPrefix(b, "oci://"))
}
