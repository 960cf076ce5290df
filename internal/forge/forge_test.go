package forge

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/sourceerr"
)

func TestParseRepoURL(t *testing.T) {
	for _, tc := range []struct {
		url                           string
		display, github, gitea, owner string
		name                          string
	}{
		{url: "https://github.com/example/gitops.git", display: "https://github.com/example/gitops", github: "https://api.github.com", gitea: "https://github.com/api/v1", owner: "example", name: "gitops"},
		{url: "https://GitHub.com/example/gitops/", display: "https://github.com/example/gitops", github: "https://api.github.com", gitea: "https://github.com/api/v1", owner: "example", name: "gitops"},
		// Userinfo is dropped: credentials come from Secrets only.
		{url: "https://someone:pw@github.com/example/gitops", display: "https://github.com/example/gitops", github: "https://api.github.com", gitea: "https://github.com/api/v1", owner: "example", name: "gitops"},
		{url: "https://ghe.example.com/org/app.git", display: "https://ghe.example.com/org/app", github: "https://ghe.example.com/api/v3", gitea: "https://ghe.example.com/api/v1", owner: "org", name: "app"},
		// A forge served below a path prefix keeps it for its API.
		{url: "http://127.0.0.1:3000/git/org/app.git", display: "http://127.0.0.1:3000/git/org/app", github: "http://127.0.0.1:3000/git/api/v3", gitea: "http://127.0.0.1:3000/git/api/v1", owner: "org", name: "app"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			r, err := parseRepoURL(tc.url)
			require.NoError(t, err)
			require.Equal(t, tc.display, r.display())
			require.Equal(t, tc.github, r.githubAPI())
			require.Equal(t, tc.gitea, r.giteaAPI())
			require.Equal(t, tc.owner, r.owner)
			require.Equal(t, tc.name, r.name)
		})
	}
	for url, want := range map[string]string{
		"git@github.com:example/gitops.git":       "give the repository's https:// address",
		"ssh://git@github.com/example/gitops.git": "give the repository's https:// address",
		"https://github.com/gitops":               "no OWNER/NAME path",
		"https://github.com/example/../gitops":    "empty, . or .. part",
		"https://github.com/example/gitops?x=1":   "no query or fragment",
		"file:///srv/example/gitops":              "not an http(s) URL",
		"example/gitops":                          "not an http(s) URL",
	} {
		t.Run(url, func(t *testing.T) {
			_, err := parseRepoURL(url)
			require.ErrorIs(t, err, sourceerr.ErrInvalid)
			require.ErrorContains(t, err, want)
		})
	}
}

func TestMergeMethod(t *testing.T) {
	m, err := mergeMethod("")
	require.NoError(t, err)
	require.Equal(t, MergeCommit, m)
	for _, ok := range []MergeMethod{MergeCommit, Squash, Rebase} {
		m, err := mergeMethod(ok)
		require.NoError(t, err)
		require.Equal(t, ok, m)
	}
	_, err = mergeMethod("fast-forward-only")
	require.ErrorContains(t, err, `merge method "fast-forward-only" is not one of merge, squash or rebase`)
}

func TestCheckOpen(t *testing.T) {
	require.NoError(t, checkOpen(OpenOptions{Head: "kargo/test", Base: "main", Title: "t"}))
	require.ErrorContains(t, checkOpen(OpenOptions{Base: "main", Title: "t"}), "both the head and the base branch")
	require.ErrorContains(t, checkOpen(OpenOptions{Head: "main", Base: "main", Title: "t"}), "head and base are both main")
	require.ErrorContains(t, checkOpen(OpenOptions{Head: "a", Base: "main"}), "a title is needed")
}

// GitHub's pull request objects, cut down to the fields kargo reads, in the
// shapes GitHub's REST API documentation shows for "Get a pull request" and
// "List pull requests" (version 2022-11-28). No GitHub server can be
// reached from the tests, so this is the GitHub behaviour checked against
// documentation only.
func TestGitHubPullRequestStates(t *testing.T) {
	for name, tc := range map[string]struct {
		json      string
		state     State
		merge     string
		mergeable *bool
	}{
		"open, mergeability not computed yet": {
			json:  `{"number":1347,"html_url":"https://github.com/octocat/Hello-World/pull/1347","state":"open","title":"Amazing new feature","merged":false,"merged_at":null,"merge_commit_sha":"e5bd3914e2e596debea16f433f57875b5b90bcd6","mergeable":null,"head":{"ref":"new-topic","sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e","repo":{"full_name":"octocat/Hello-World"}},"base":{"ref":"main"}}`,
			state: StateOpen, mergeable: nil,
		},
		"open and mergeable (the merge_commit_sha of an open pull request is a test merge)": {
			json:  `{"number":1347,"state":"open","merged":false,"merged_at":null,"merge_commit_sha":"e5bd3914e2e596debea16f433f57875b5b90bcd6","mergeable":true,"mergeable_state":"clean","head":{"ref":"new-topic"},"base":{"ref":"main"}}`,
			state: StateOpen, mergeable: ptr(true),
		},
		"open with conflicts": {
			json:  `{"number":1347,"state":"open","merged":false,"mergeable":false,"mergeable_state":"dirty","head":{"ref":"new-topic"},"base":{"ref":"main"}}`,
			state: StateOpen, mergeable: ptr(false),
		},
		"merged": {
			json:  `{"number":1347,"state":"closed","merged":true,"merged_at":"2011-01-26T19:01:12Z","merge_commit_sha":"e5bd3914e2e596debea16f433f57875b5b90bcd6","head":{"ref":"new-topic"},"base":{"ref":"main"}}`,
			state: StateMerged, merge: "e5bd3914e2e596debea16f433f57875b5b90bcd6",
		},
		"merged, as a list shows it (no merged field)": {
			json:  `{"number":1347,"state":"closed","merged_at":"2011-01-26T19:01:12Z","merge_commit_sha":"e5bd3914e2e596debea16f433f57875b5b90bcd6","head":{"ref":"new-topic"},"base":{"ref":"main"}}`,
			state: StateMerged, merge: "e5bd3914e2e596debea16f433f57875b5b90bcd6",
		},
		"closed without merge": {
			json:  `{"number":1347,"state":"closed","merged":false,"merged_at":null,"merge_commit_sha":"e5bd3914e2e596debea16f433f57875b5b90bcd6","head":{"ref":"new-topic"},"base":{"ref":"main"}}`,
			state: StateClosed,
		},
	} {
		t.Run(name, func(t *testing.T) {
			var p githubPR
			require.NoError(t, json.Unmarshal([]byte(tc.json), &p))
			pr := p.toPullRequest()
			require.Equal(t, tc.state, pr.State)
			require.Equal(t, tc.merge, pr.MergeCommitSHA)
			require.Equal(t, tc.mergeable, pr.Mergeable)
			require.Equal(t, int64(1347), pr.Number)
		})
	}
}

func TestErrorKinds(t *testing.T) {
	for status, kind := range map[int]error{401: sourceerr.ErrUnauthorized, 403: sourceerr.ErrUnauthorized, 404: sourceerr.ErrNotFound, 502: sourceerr.ErrUnreachable} {
		err := error(&Error{Op: "read pull request #1", Provider: GitHub, Status: status})
		require.ErrorIs(t, err, kind, status)
	}
	require.False(t, errors.Is(&Error{Status: 422}, sourceerr.ErrUnauthorized))
	// GitHub's validation errors carry the reason in errors[].message.
	require.Equal(t, "Validation Failed (A pull request already exists for octocat:new-topic.)",
		message([]byte(`{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for octocat:new-topic."}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}`)))
	// Gitea answers a conflicting merge with git's output.
	require.Equal(t, "CONFLICT (content): Merge conflict in app.yaml",
		message([]byte(`{"Style":"merge","StdOut":"Auto-merging app.yaml\nCONFLICT (content): Merge conflict in app.yaml\nAutomatic merge failed; fix conflicts and then commit the result.\n","StdErr":"","Err":{}}`)))
	require.Equal(t, "Does not have enough approvals", message([]byte(`{"message":"Does not have enough approvals","url":"http://127.0.0.1:3000/api/swagger"}`)))
	require.ErrorIs(t, &NotMergeableError{Number: 1}, ErrNotMergeable)
}

func ptr[T any](v T) *T { return &v }
