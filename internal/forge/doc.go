// Package forge opens, reads and merges pull requests on the forge that
// hosts a Git repository, through the forge's documented REST API: GitHub
// (github.com and GitHub Enterprise Server, REST API version 2022-11-28) and
// Gitea (API v1, which Forgejo serves too). The promotion steps
// git-open-pr, git-wait-for-pr and git-merge-pr are built on it.
//
// # Which forge
//
// A Repository names its forge with Provider, or leaves it empty: a
// repository on github.com is GitHub's, and any other host is asked
// whether it is a Gitea (GET /api/v1/version, without credentials). GitHub
// Enterprise Server is never guessed; its repositories say provider github.
// The API lives on the repository's own host: https://HOST/PREFIX/api/v1
// for Gitea and https://HOST/PREFIX/api/v3 for GitHub Enterprise Server,
// where PREFIX is what precedes OWNER/NAME in the repository's URL; for
// github.com it is https://api.github.com.
//
// # Whose rights
//
// Requests carry the password or token of the project's git credential
// Secret for the repository's URL (package credentials), never anything of
// the controller's own. They go to the repository's host only: the API's
// address is derived from the repository URL, never given separately, and
// a redirect to another host is refused rather than followed, so a
// repository URL cannot send a Secret's token anywhere its Secret does not
// name. Credentials travel over https:// only, or plain http:// to this
// machine (for tests). Every connection is dialled through the outbound
// address policy (package egress), the provider probe included, so a
// repository URL cannot reach what that policy refuses.
//
// # Idempotency
//
// OpenPullRequest first looks for an open pull request from the same head
// branch to the same base branch and reuses it, so that a promotion that is
// run again after a restart never opens a second one. When there is none,
// a merged one whose head was the commit the head branch points at now is
// returned as it is: the promotion opened it and someone merged it before
// the promotion recorded it. MergePullRequest of a pull request that is
// already merged returns it as merged.
package forge
