package steps

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/testutil/gitea"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// prSecret gives project ns a git credential Secret for repoURL with user's
// token, written by the project's administrator.
func prSecret(t *testing.T, ns, name, repoURL string, user gitea.User) {
	t.Helper()
	require.NoError(t, env.Admin.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{kargoapi.CredentialTypeLabelKey: "git"}},
		Data: map[string][]byte{
			credentials.RepoURLKey: []byte(repoURL), credentials.UsernameKey: []byte(user.Name), credentials.PasswordKey: []byte(user.Token),
		},
	}))
}

// prStage is a Stage promoted through a pull request: it edits main's
// values file, pushes the change to a branch generated for the Promotion,
// opens a pull request from it into main, and waits for a person to merge
// it.
func prStage(ns, name, repo string) *kargoapi.Stage {
	st := objects.Stage(ns, name, objects.SubscribesTo(objects.DefaultWarehouse))
	st.Spec.Vars = []kargoapi.ExpressionVariable{{Name: "gitRepo", Value: repo}}
	st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
		stepsStep("git-clone", "", `{"repoURL": "${{ vars.gitRepo }}", "checkout": [{"branch": "main", "path": "./out"}]}`),
		stepsStep("yaml-update", "update", `{"path": "./out/stages/${{ ctx.stage }}/values.yaml",
			"updates": [{"key": "image.tag", "value": "${{ imageFrom('nginx').Tag }}"}]}`),
		stepsStep("git-commit", "", `{"path": "./out", "messageFromSteps": ["update"]}`),
		stepsStep("git-push", "push", `{"path": "./out", "generateTargetBranch": true}`),
		stepsStep("git-open-pr", "open-pr", `{"repoURL": "${{ vars.gitRepo }}", "sourceBranch": "${{ outputs.push.branch }}",
			"targetBranch": "main", "labels": ["kargo"]}`),
		stepsStep("git-wait-for-pr", "wait-for-pr", `{"repoURL": "${{ vars.gitRepo }}", "prNumber": "${{ outputs['open-pr'].pr.id }}"}`),
	}}}
	return st
}

// prWaiting waits until Promotion name of ns runs git-wait-for-pr and
// returns the pull request it waits for, as Gitea has it.
func prWaiting(t *testing.T, g *gitea.Gitea, ns, name string) (*kargoapi.Promotion, gitea.PullRequest) {
	t.Helper()
	var p *kargoapi.Promotion
	kubetest.Eventually(t, 90*time.Second, "Promotion "+name+" waits for its pull request", func() (bool, string) {
		p = stepsPromotion(t, ns, name)
		return p.Status.Phase == kargoapi.PromotionPhaseRunning && strings.Contains(p.Status.Message, "(wait-for-pr): waiting for pull request #"),
			fmt.Sprintf("%s (step %d): %s", p.Status.Phase, p.Status.CurrentStep, p.Status.Message)
	})
	open := stepsOutputs(t, p)["open-pr"]["pr"].(map[string]any)
	pr := g.PullRequest(t, "gitops", int64(open["id"].(float64)))
	return p, pr
}

// A Stage promoted through a pull request on a real Gitea: the Promotion
// runs while the pull request is open, saying so with its address; a
// person's merge makes it succeed, and a pull request closed unmerged
// fails it with a message saying so.
func TestStepsPromoteThroughAPullRequest(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "steps-pr")
	g := gitea.Start(t)
	controllers.AllowOutbound(t, strings.TrimPrefix(g.URL, "http://"))
	g.CreateRepo(t, "gitops")
	values := "# prod's values\nimage:\n  repository: nginx\n  tag: 1.24.0 # set by kargo\n"
	g.Commit(t, "gitops", "", "main", map[string]string{"stages/prod/values.yaml": values}, "layout")
	repo := g.RepoURL(gitea.AdminUser, "gitops")
	bot := g.CreateUser(t, "kargo-bot")
	g.AddCollaborator(t, gitea.AdminUser, "gitops", bot.Name, "write")
	prSecret(t, ns, "gitea", repo, bot)
	require.NoError(t, env.Admin.Create(ctx, prStage(ns, "prod", repo)))

	// Merged by a person: the Promotion succeeds with the merge commit.
	f1 := objects.Freight(ns, objects.Image("nginx", "1.25.0"), objects.Alias("brave-eagle"))
	require.NoError(t, env.Admin.Create(ctx, f1))
	name := stepsPromote(t, ns, "prod", f1.Name)
	p, pr := prWaiting(t, g, ns, name)
	require.Equal(t, "open", pr.State)
	require.Equal(t, "kargo/promotion/"+name, pr.Head.Ref)
	require.Equal(t, "main", pr.Base.Ref)
	require.Equal(t, "Promote brave-eagle to prod", pr.Title)
	require.Equal(t, []gitea.Label{{Name: "kargo"}}, pr.Labels)
	require.Contains(t, p.Status.Message, pr.HTMLURL, "the Promotion's message has the pull request's address")
	require.EqualValues(t, 5, p.Status.CurrentStep, "git-wait-for-pr runs")
	require.Equal(t, strings.Replace(values, "tag: 1.24.0", "tag: 1.25.0", 1), g.Show(t, "gitops", pr.Head.Ref, "stages/prod/values.yaml"),
		"the pull request changes only the tag")
	require.Nil(t, stepsStage(t, ns, "prod").Status.CurrentFreight, "nothing is promoted while the pull request is open")

	// A person merges it, as Gitea's admin, through Gitea's API.
	merged := g.Merge(t, "gitops", pr.Number, "merge")
	require.True(t, merged.Merged)
	p = stepsWaitEnd(t, ns, name, time.Minute)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	require.Equal(t, *merged.MergeCommitSHA, stepsOutputs(t, p)["wait-for-pr"]["commit"])
	require.Equal(t, *merged.MergeCommitSHA, g.BranchHead(t, "gitops", "main"))
	st := stepsStage(t, ns, "prod")
	require.NotNil(t, st.Status.CurrentFreight)
	require.Equal(t, f1.Name, st.Status.CurrentFreight.ID)
	require.Len(t, g.PullRequests(t, "gitops", "all"), 1, "one pull request for one Promotion")

	// Closed unmerged: the Promotion fails, saying so; main and the Stage
	// keep what they had.
	f2 := objects.Freight(ns, objects.Image("nginx", "1.26.0"), objects.Alias("calm-otter"))
	require.NoError(t, env.Admin.Create(ctx, f2))
	name = stepsPromote(t, ns, "prod", f2.Name)
	_, pr = prWaiting(t, g, ns, name)
	require.Equal(t, "Promote calm-otter to prod", pr.Title)
	g.Close(t, "gitops", pr.Number)
	p = stepsWaitEnd(t, ns, name, time.Minute)
	require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase, p.Status.Message)
	require.Contains(t, p.Status.Message, fmt.Sprintf("pull request #%d (%s) was closed without being merged", pr.Number, pr.HTMLURL))
	require.Equal(t, *merged.MergeCommitSHA, g.BranchHead(t, "gitops", "main"))
	require.Equal(t, f1.Name, stepsStage(t, ns, "prod").Status.CurrentFreight.ID)
}

// Pull requests are opened with the credentials of the Promotion's own
// project, chosen by the Stage's steps, which only those who may promote
// write. Someone who may edit Stages but not promote cannot point them at
// another project's repository, and a Stage that names one (written by a
// project admin) gets no pull request there: the other project's token is
// not used. test/security/forge_test.go attacks the forge client itself
// (refused addresses, tokens sent to other hosts, redirects, userinfo).
func TestStepsPullRequestAttacks(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "steps-pr-attacks")
	env.BindAccessUsers(t, ns)
	other := env.NewProject(t, "steps-pr-other")
	g := gitea.Start(t)
	controllers.AllowOutbound(t, strings.TrimPrefix(g.URL, "http://"))

	// Each project's repository, each private, each with a bot that may
	// write it and whose token is a credential Secret of that project.
	for _, r := range []struct{ project, repo, bot string }{{ns, "gitops", "bot-ours"}, {other, "theirs", "bot-theirs"}} {
		g.CreateRepo(t, r.repo)
		g.Commit(t, r.repo, "", "main", map[string]string{"stages/prod/values.yaml": "image:\n  tag: 1.24.0\n"}, "layout")
		g.Commit(t, r.repo, "main", "feature", map[string]string{"stages/prod/values.yaml": "image:\n  tag: 9.9.9\n"}, "a branch ready for a pull request")
		bot := g.CreateUser(t, r.bot)
		g.AddCollaborator(t, gitea.AdminUser, r.repo, bot.Name, "write")
		prSecret(t, r.project, "gitea", g.RepoURL(gitea.AdminUser, r.repo), bot)
	}
	theirs := g.RepoURL(gitea.AdminUser, "theirs")
	require.NoError(t, env.Admin.Create(ctx, prStage(ns, "prod", g.RepoURL(gitea.AdminUser, "gitops"))))
	openTheirs := stepsStep("git-open-pr", "open-pr", `{"repoURL": "`+theirs+`", "sourceBranch": "feature", "targetBranch": "main"}`)

	t.Run("carol, who may edit Stages but not promote, points prod's pull request at another project's repository", func(t *testing.T) {
		before := stepsStage(t, ns, "prod")
		st := before.DeepCopy()
		st.Spec.PromotionTemplate.Spec.Steps[4] = openTheirs
		// A patch: the controllers write the Stage's status meanwhile.
		err := env.As(t, kubetest.Carol).Patch(ctx, st, client.MergeFrom(before))
		require.Error(t, err)
		require.Contains(t, err.Error(), "right to promote")
		require.Contains(t, string(stepsStage(t, ns, "prod").Spec.PromotionTemplate.Spec.Steps[4].Config.Raw), "${{ vars.gitRepo }}", "the Stage is unchanged")

		fresh := objects.Stage(ns, "carols", objects.SubscribesTo(objects.DefaultWarehouse))
		fresh.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{openTheirs}}}
		err = env.As(t, kubetest.Carol).Create(ctx, fresh)
		require.Error(t, err)
		require.Contains(t, err.Error(), "right to promote")
		require.Empty(t, g.PullRequests(t, "theirs", "all"))
	})

	t.Run("a Stage of one project opens a pull request on another project's repository", func(t *testing.T) {
		adam := env.As(t, kubetest.Adam)
		st := objects.Stage(ns, "borrow", objects.SubscribesTo(objects.DefaultWarehouse))
		st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{openTheirs}}}
		require.NoError(t, adam.Create(ctx, st))
		f := objects.Freight(ns, objects.Image("nginx", "1.25.0"))
		require.NoError(t, env.Admin.Create(ctx, f))
		p := objects.Promotion(ns, "borrow-1", "borrow", f.Name)
		require.NoError(t, adam.Create(ctx, p))
		p = stepsWaitEnd(t, ns, p.Name, time.Minute)
		require.Contains(t, []kargoapi.PromotionPhase{kargoapi.PromotionPhaseFailed, kargoapi.PromotionPhaseErrored}, p.Status.Phase, p.Status.Message)
		require.Contains(t, p.Status.Message, "no git credential Secret of project "+ns+" matches")
		require.Empty(t, g.PullRequests(t, "theirs", "all"), "a pull request was opened with another project's token")
	})
}
