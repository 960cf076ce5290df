package steps

import (
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
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/testutil/gitea"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// The pull-request steps against a real Gitea: open (once), wait while it
// is open, succeed when a person merges it, fail when it is closed
// unmerged; merge it themselves with the project's credentials.
func TestPullRequestSteps(t *testing.T) {
	g := gitea.Start(t)
	host := strings.TrimPrefix(g.URL, "http://")
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "gitea", Labels: map[string]string{kargoapi.CredentialTypeLabelKey: "git"}},
		Data: map[string][]byte{
			credentials.RepoURLKey: []byte(g.RepoURL(gitea.AdminUser, "gitops")), credentials.UsernameKey: []byte(gitea.AdminUser), credentials.PasswordKey: []byte(g.Token),
		},
	}
	forges := &forge.Forges{
		Credentials: credentials.KubernetesStore{Client: fake.NewClientBuilder().WithObjects(secret).Build()},
		Egress:      egress.New(egress.Options{Allow: egress.MustParseRules(host)}),
	}
	registry := New(Deps{Forges: forges})
	g.CreateRepo(t, "gitops")
	g.Commit(t, "gitops", "", "stages/test", map[string]string{"app.yaml": "image: nginx:1.24.0\n"}, "first")
	repoURL := g.RepoURL(gitea.AdminUser, "gitops")
	sc := &engine.StepContext{WorkDir: t.TempDir(), Project: "demo", Stage: "test",
		Freight: []*kargoapi.Freight{objects.Freight("demo", objects.Image("nginx", "1.25.0"), objects.Alias("mortal-dragonfly"))}}
	run := func(name, cfg string) (engine.Result, error) {
		t.Helper()
		return runWith(t, registry[name], sc, cfg)
	}
	branch := func(name, tag string) {
		g.Commit(t, "gitops", "stages/test", name, map[string]string{"app.yaml": "image: nginx:" + tag + "\n"}, "promote "+tag)
	}
	openCfg := func(head string) string {
		return `{"repoURL": "` + repoURL + `", "sourceBranch": "` + head + `", "targetBranch": "stages/test", "labels": ["kargo"]}`
	}

	t.Run("a person merges it", func(t *testing.T) {
		branch("kargo/p1", "1.25.0")
		res, err := run("git-open-pr", openCfg("kargo/p1"))
		require.NoError(t, err)
		pr := res.Output["pr"].(map[string]any)
		number := pr["id"].(int64)
		require.Contains(t, res.Message, "opened pull request #")
		require.Equal(t, number, res.Output["prNumber"], "Kargo's docs read prNumber")
		require.Equal(t, "Promote mortal-dragonfly to test", g.PullRequest(t, "gitops", number).Title)

		again, err := run("git-open-pr", openCfg("kargo/p1"))
		require.NoError(t, err, "a restarted promotion opens no second pull request")
		require.Equal(t, number, again.Output["pr"].(map[string]any)["id"])
		require.Len(t, g.PullRequests(t, "gitops", "open"), 1)

		waitCfg := `{"repoURL": "` + repoURL + `", "prNumber": ` + itoa(number) + `}`
		res, err = run("git-wait-for-pr", waitCfg)
		require.NoError(t, err)
		require.True(t, res.Waiting)
		require.Contains(t, res.Message, pr["url"].(string), "the Promotion's message has the pull request's address")

		merged := g.Merge(t, "gitops", number, "merge")
		res, err = run("git-wait-for-pr", waitCfg)
		require.NoError(t, err)
		require.False(t, res.Waiting)
		require.Equal(t, *merged.MergeCommitSHA, res.Output["commit"])
		require.Equal(t, "image: nginx:1.25.0\n", g.Show(t, "gitops", "stages/test", "app.yaml"))
	})

	t.Run("closed without merge fails", func(t *testing.T) {
		branch("kargo/p2", "1.26.0")
		res, err := run("git-open-pr", openCfg("kargo/p2"))
		require.NoError(t, err)
		number := res.Output["pr"].(map[string]any)["id"].(int64)
		g.Close(t, "gitops", number)
		_, err = run("git-wait-for-pr", `{"repoURL": "`+repoURL+`", "prNumber": "`+itoa(number)+`"}`)
		require.ErrorContains(t, err, "was closed without being merged")
		require.ErrorIs(t, err, forge.ErrClosed)
	})

	t.Run("the step merges it", func(t *testing.T) {
		branch("kargo/p3", "1.27.0")
		res, err := run("git-open-pr", openCfg("kargo/p3"))
		require.NoError(t, err)
		number := res.Output["pr"].(map[string]any)["id"].(int64)
		cfg := `{"repoURL": "` + repoURL + `", "prNumber": ` + itoa(number) + `, "wait": true}`
		var merged engine.Result
		require.Eventually(t, func() bool {
			merged, err = run("git-merge-pr", cfg)
			require.NoError(t, err)
			return !merged.Waiting
		}, time.Minute, 500*time.Millisecond, "Gitea computes mergeability in the background")
		require.Equal(t, g.BranchHead(t, "gitops", "stages/test"), merged.Output["commit"])
	})

	t.Run("refusals", func(t *testing.T) {
		_, err := run("git-open-pr", `{"repoURL": "`+repoURL+`", "sourceBranch": "x", "targetBranch": "y", "insecureSkipTLSVerify": true}`)
		require.ErrorContains(t, err, "does not send a forge's token without verifying")
		_, err = run("git-wait-for-pr", `{"repoURL": "`+repoURL+`", "prNumber": "seven"}`)
		require.ErrorContains(t, err, "not a pull request number")
		_, err = runWith(t, New(Deps{})["git-open-pr"], sc, openCfg("kargo/p1"))
		require.ErrorContains(t, err, "without pull-request support")
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
