package forge_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/forge"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/gitea"
)

const project = "kargo-demo"

// gitSecret is a git credential Secret of project for repoURL, or for
// every URL matching it when pattern is set.
func gitSecret(name, repoURL string, pattern bool, username, password string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name, Labels: map[string]string{kargoapi.CredentialTypeLabelKey: string(credentials.TypeGit)}},
		Data:       map[string][]byte{credentials.UsernameKey: []byte(username), credentials.PasswordKey: []byte(password)},
	}
	if pattern {
		s.Labels[kargoapi.CredentialURLPatternLabelKey] = "true"
		s.Data[credentials.RepoURLPatternKey] = []byte(repoURL)
	} else {
		s.Data[credentials.RepoURLKey] = []byte(repoURL)
	}
	return s
}

// The pull-request client against a real Gitea: what a promotion that opens
// a pull request, waits for it and merges it sees.
func TestGitea(t *testing.T) {
	t0 := time.Now()
	g := gitea.Start(t)
	t.Logf("Gitea answered its API %s after it started; with its admin and token, it was ready after %s", g.StartUp, time.Since(t0))
	host := strings.TrimPrefix(g.URL, "http://")
	reviewer := g.CreateUser(t, "reviewer")
	// The admin's token for every repository of the admin, by a pattern
	// that spells the host out; the reviewer's (who may only read) and a
	// wrong token for one repository each.
	secrets := []*corev1.Secret{
		gitSecret("admin", `http://127\.0\.0\.1:`+strings.TrimPrefix(host, "127.0.0.1:")+`/`+gitea.AdminUser+`/.*`, true, gitea.AdminUser, g.Token),
		gitSecret("wrong", g.RepoURL(gitea.AdminUser, "wrong-token"), false, gitea.AdminUser, strings.Repeat("0", 40)),
		gitSecret("reviewer", g.RepoURL(gitea.AdminUser, "read-only"), false, reviewer.Name, reviewer.Token),
	}
	sshOnly := gitSecret("ssh-only", g.RepoURL(gitea.AdminUser, "ssh-only"), false, "", "")
	sshOnly.Data[credentials.SSHPrivateKeyKey] = []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n")
	kube := fake.NewClientBuilder().WithObjects(secrets[0], secrets[1], secrets[2], sshOnly).Build()
	forges := &forge.Forges{
		Credentials: credentials.KubernetesStore{Client: kube},
		Egress:      egress.New(egress.Options{Allow: egress.MustParseRules(host)}),
	}
	ctx := t.Context()
	// repo creates a repository with a main branch and a head branch that
	// changes a file, and returns a client for it.
	repo := func(t *testing.T, name string, provider forge.Provider) forge.Client {
		t.Helper()
		g.CreateRepo(t, name)
		g.Commit(t, name, "", "main", map[string]string{"app.yaml": "image: nginx:1.24.0\n"}, "first")
		g.Commit(t, name, "main", "kargo/promotion", map[string]string{"app.yaml": "image: nginx:1.25.0\n"}, "promote nginx:1.25.0")
		c, err := forges.Client(ctx, forge.Repository{Namespace: project, URL: g.RepoURL(gitea.AdminUser, name), Provider: provider})
		require.NoError(t, err)
		return c
	}
	open := forge.OpenOptions{Head: "kargo/promotion", Base: "main", Title: "Promote nginx:1.25.0 to test", Body: "Freight mortal-dragonfly", Labels: []string{"kargo", "promotion"}}

	t.Run("the provider is detected, a pull request opened once and reused", func(t *testing.T) {
		c := repo(t, "open", "")
		require.Equal(t, forge.Gitea, c.Provider())
		pr, created, err := c.OpenPullRequest(ctx, open)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, forge.StateOpen, pr.State)
		require.Equal(t, g.URL+"/"+gitea.AdminUser+"/open/pulls/"+itoa(pr.Number), pr.URL)
		require.Equal(t, g.BranchHead(t, "open", "kargo/promotion"), pr.HeadSHA)
		require.ElementsMatch(t, []string{"kargo", "promotion"}, pr.Labels)

		got := g.PullRequest(t, "open", pr.Number)
		require.Equal(t, open.Title, got.Title)
		require.Equal(t, open.Body, got.Body)
		require.Equal(t, "kargo/promotion", got.Head.Ref)
		require.Equal(t, "main", got.Base.Ref)

		// A promotion run again after a restart opens nothing new.
		again, created, err := c.OpenPullRequest(ctx, open)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, pr.Number, again.Number)
		require.Len(t, g.PullRequests(t, "open", "all"), 1)

		// One a person opened is reused too, and gets the labels.
		g.Commit(t, "open", "main", "kargo/other", map[string]string{"app.yaml": "image: nginx:1.26.0\n"}, "by hand")
		n := g.CreatePullRequest(t, "open", "kargo/other", "main", "opened by hand")
		mine, created, err := c.OpenPullRequest(ctx, forge.OpenOptions{Head: "kargo/other", Base: "main", Title: "ignored", Labels: []string{"kargo"}})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, n, mine.Number)
		require.Equal(t, []string{"kargo"}, mine.Labels)
		require.Equal(t, "opened by hand", g.PullRequest(t, "open", n).Title)
	})

	t.Run("open until a person merges it, then merged with its merge commit", func(t *testing.T) {
		c := repo(t, "wait-merged", forge.Gitea)
		pr, _, err := c.OpenPullRequest(ctx, forge.OpenOptions{Head: open.Head, Base: open.Base, Title: open.Title})
		require.NoError(t, err)
		now, err := c.GetPullRequest(ctx, pr.Number)
		require.NoError(t, err)
		require.Equal(t, forge.StateOpen, now.State)
		require.Empty(t, now.MergeCommitSHA)

		g.Merge(t, "wait-merged", pr.Number, "merge")
		now, err = c.GetPullRequest(ctx, pr.Number)
		require.NoError(t, err)
		require.Equal(t, forge.StateMerged, now.State)
		require.Equal(t, g.BranchHead(t, "wait-merged", "main"), now.MergeCommitSHA)
		require.Nil(t, now.Mergeable)
	})

	t.Run("a pull request merged before the promotion recorded it is not opened again", func(t *testing.T) {
		c := repo(t, "merged-early", forge.Gitea)
		pr, _, err := c.OpenPullRequest(ctx, open)
		require.NoError(t, err)
		g.Merge(t, "merged-early", pr.Number, "squash")
		again, created, err := c.OpenPullRequest(ctx, open)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, pr.Number, again.Number)
		require.Equal(t, forge.StateMerged, again.State)
		require.Equal(t, g.BranchHead(t, "merged-early", "main"), again.MergeCommitSHA)
		require.Len(t, g.PullRequests(t, "merged-early", "all"), 1)

		// New work on the head branch is a new pull request.
		g.Commit(t, "merged-early", "kargo/promotion", "kargo/promotion", map[string]string{"app.yaml": "image: nginx:1.26.0\n"}, "promote nginx:1.26.0")
		next, created, err := c.OpenPullRequest(ctx, open)
		require.NoError(t, err)
		require.True(t, created)
		require.NotEqual(t, pr.Number, next.Number)
	})

	t.Run("closed without merge is closed, cannot be merged, and is not reused", func(t *testing.T) {
		c := repo(t, "wait-closed", forge.Gitea)
		pr, _, err := c.OpenPullRequest(ctx, open)
		require.NoError(t, err)
		mainBefore := g.BranchHead(t, "wait-closed", "main")
		g.Close(t, "wait-closed", pr.Number)
		now, err := c.GetPullRequest(ctx, pr.Number)
		require.NoError(t, err)
		require.Equal(t, forge.StateClosed, now.State)
		require.Empty(t, now.MergeCommitSHA)

		_, err = c.MergePullRequest(ctx, pr.Number, forge.MergeOptions{})
		require.ErrorIs(t, err, forge.ErrClosed)
		require.Equal(t, mainBefore, g.BranchHead(t, "wait-closed", "main"), "a closed pull request was merged")

		next, created, err := c.OpenPullRequest(ctx, open)
		require.NoError(t, err)
		require.True(t, created, "a closed pull request was reused")
		require.NotEqual(t, pr.Number, next.Number)
	})

	t.Run("merge, with each method, once", func(t *testing.T) {
		for _, method := range []forge.MergeMethod{forge.MergeCommit, forge.Squash, forge.Rebase} {
			t.Run(string(method), func(t *testing.T) {
				name := "merge-" + string(method)
				c := repo(t, name, forge.Gitea)
				pr, _, err := c.OpenPullRequest(ctx, open)
				require.NoError(t, err)
				g.WaitMergeable(t, name, pr.Number)
				merged, err := c.MergePullRequest(ctx, pr.Number, forge.MergeOptions{Method: method, HeadSHA: pr.HeadSHA})
				require.NoError(t, err)
				require.Equal(t, forge.StateMerged, merged.State)
				require.Equal(t, g.BranchHead(t, name, "main"), merged.MergeCommitSHA)
				require.Equal(t, "image: nginx:1.25.0\n", g.Show(t, name, "main", "app.yaml"))
				require.True(t, g.PullRequest(t, name, pr.Number).Merged)

				// A promotion that merges again after a restart gets the
				// same answer, and nothing more is merged.
				again, err := c.MergePullRequest(ctx, pr.Number, forge.MergeOptions{Method: method})
				require.NoError(t, err)
				require.Equal(t, merged.MergeCommitSHA, again.MergeCommitSHA)
				require.Equal(t, merged.MergeCommitSHA, g.BranchHead(t, name, "main"))
			})
		}
	})

	t.Run("a pull request the branch protection holds back is refused, not merged", func(t *testing.T) {
		c := repo(t, "protected", forge.Gitea)
		g.ProtectBranch(t, "protected", "main", 1)
		pr, _, err := c.OpenPullRequest(ctx, open)
		require.NoError(t, err)
		g.WaitMergeable(t, "protected", pr.Number)
		before := g.BranchHead(t, "protected", "main")
		_, err = c.MergePullRequest(ctx, pr.Number, forge.MergeOptions{})
		var nm *forge.NotMergeableError
		require.ErrorAs(t, err, &nm)
		require.ErrorIs(t, err, forge.ErrNotMergeable)
		require.Contains(t, err.Error(), "pull request #"+itoa(pr.Number)+" ("+pr.URL+") cannot be merged: Gitea says:")
		t.Logf("refusal: %v", err)
		require.Equal(t, before, g.BranchHead(t, "protected", "main"))
		require.Equal(t, "open", g.PullRequest(t, "protected", pr.Number).State)
	})

	t.Run("a pull request that conflicts with its base is refused, not merged", func(t *testing.T) {
		c := repo(t, "conflict", forge.Gitea)
		pr, _, err := c.OpenPullRequest(ctx, open)
		require.NoError(t, err)
		g.WaitMergeable(t, "conflict", pr.Number)
		base := g.Commit(t, "conflict", "main", "main", map[string]string{"app.yaml": "image: nginx:1.23.0\n"}, "someone else")
		_, err = c.MergePullRequest(ctx, pr.Number, forge.MergeOptions{})
		require.ErrorIs(t, err, forge.ErrNotMergeable)
		require.ErrorContains(t, err, "cannot be merged: ")
		// Gitea may still be checking the pull request against the moved
		// base ("Please try again later"); either way nothing is merged.
		require.Regexp(t, "does not find it mergeable|CONFLICT \\(content\\): Merge conflict in app.yaml|Please try again later", err.Error())
		t.Logf("refusal: %v", err)
		require.Equal(t, base, g.BranchHead(t, "conflict", "main"))
		require.False(t, g.PullRequest(t, "conflict", pr.Number).Merged)
	})

	t.Run("a head that moved past the commit kargo saw is not merged", func(t *testing.T) {
		c := repo(t, "moved", forge.Gitea)
		pr, _, err := c.OpenPullRequest(ctx, open)
		require.NoError(t, err)
		g.Commit(t, "moved", "kargo/promotion", "kargo/promotion", map[string]string{"extra.yaml": "x: 1\n"}, "pushed by someone else")
		before := g.BranchHead(t, "moved", "main")
		_, err = c.MergePullRequest(ctx, pr.Number, forge.MergeOptions{HeadSHA: pr.HeadSHA})
		require.ErrorIs(t, err, forge.ErrNotMergeable)
		require.ErrorContains(t, err, "its head is")
		require.Equal(t, before, g.BranchHead(t, "moved", "main"))
	})

	t.Run("credentials that may only read cannot merge", func(t *testing.T) {
		c := repo(t, "read-only", forge.Gitea)
		g.AddCollaborator(t, gitea.AdminUser, "read-only", reviewer.Name, "read")
		n := g.CreatePullRequest(t, "read-only", "kargo/promotion", "main", "opened by the admin")
		g.WaitMergeable(t, "read-only", n)
		before := g.BranchHead(t, "read-only", "main")
		_, err := c.MergePullRequest(ctx, n, forge.MergeOptions{})
		require.Error(t, err)
		require.False(t, errors.Is(err, forge.ErrNotMergeable), "waiting does not give the reviewer the right to merge: %v", err)
		require.ErrorContains(t, err, "User not allowed to merge PR")
		require.ErrorContains(t, err, "may not merge into main")
		require.Equal(t, before, g.BranchHead(t, "read-only", "main"))
	})

	t.Run("a wrong token is a 401 that names the Secret's user", func(t *testing.T) {
		c := repo(t, "wrong-token", "")
		_, _, err := c.OpenPullRequest(ctx, open)
		require.ErrorIs(t, err, sourceerr.ErrUnauthorized)
		require.ErrorContains(t, err, "Gitea answered 401 Unauthorized")
		require.ErrorContains(t, err, "it refused the credentials (user "+gitea.AdminUser+") of project kargo-demo's git credential Secret for "+g.URL+"/"+gitea.AdminUser+"/wrong-token: check the Secret's password or token")
		require.NotContains(t, err.Error(), strings.Repeat("0", 40))
		require.Empty(t, g.PullRequests(t, "wrong-token", "all"))
	})

	t.Run("a Secret with an SSH key only gives the API nothing, and is said so", func(t *testing.T) {
		c := repo(t, "ssh-only", forge.Gitea)
		_, _, err := c.OpenPullRequest(ctx, open)
		require.ErrorContains(t, err, "project kargo-demo's git credential Secret for "+g.URL+"/"+gitea.AdminUser+"/ssh-only holds no password or token, which the API needs")
		require.Empty(t, g.PullRequests(t, "ssh-only", "all"))
	})

	t.Run("no matching Secret is an anonymous request, refused and said so", func(t *testing.T) {
		other := &forge.Forges{Credentials: credentials.KubernetesStore{Client: fake.NewClientBuilder().Build()}, Egress: forges.Egress}
		repo(t, "anonymous", "")
		anon, err := other.Client(ctx, forge.Repository{Namespace: project, URL: g.RepoURL(gitea.AdminUser, "anonymous")})
		require.NoError(t, err)
		_, _, err = anon.OpenPullRequest(ctx, open)
		require.Error(t, err)
		require.ErrorContains(t, err, "no git credential Secret of project kargo-demo matches "+g.URL+"/"+gitea.AdminUser+"/anonymous")
		require.Empty(t, g.PullRequests(t, "anonymous", "all"))
	})
}

// A host that is not a Gitea and not github.com needs its provider named.
func TestDetectionNeedsAProviderForOtherHosts(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	forges := &forge.Forges{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(u.Host)})}
	_, err := forges.Client(context.Background(), forge.Repository{Namespace: project, URL: srv.URL + "/org/app.git"})
	require.ErrorContains(t, err, "cannot tell which forge serves "+srv.URL+"/org/app: "+u.Host+" is not github.com and does not answer as a Gitea")
	require.ErrorContains(t, err, "set the provider (github, also for GitHub Enterprise Server, or gitea)")

	_, err = forges.Client(context.Background(), forge.Repository{Namespace: project, URL: srv.URL + "/org/app.git", Provider: "gitlab"})
	require.ErrorContains(t, err, `provider "gitlab" of `+srv.URL+"/org/app is not one kargo speaks to")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
