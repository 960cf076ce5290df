package security

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// gitstepsRun runs the steps of Stage name of ns, as written through the
// API, for one Promotion, the way the controller does: as its
// ServiceAccount, with the project's credential Secrets, and a Git cache
// whose outbound policy allows only the servers of allowed.
func gitstepsRun(t *testing.T, ns, name string, allowed ...*gitserver.Server) (kargoapi.PromotionStatus, engine.Outcome) {
	t.Helper()
	ctx := context.Background()
	controller := env.As(t, controllers.ServiceAccount, "system:serviceaccounts", "system:authenticated")
	st := &kargoapi.Stage{}
	require.NoError(t, controller.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, st))
	var rules []egress.Rule
	for _, s := range allowed {
		rules = append(rules, egress.MustParseRules(s.Host())...)
	}
	cache := git.NewCache(t.TempDir(), git.Options{Egress: egress.New(egress.Options{Allow: rules})})
	e := &engine.Engine{Steps: steps.New(steps.Deps{Git: cache, Credentials: credentials.KubernetesStore{Client: controller}, Client: controller})}
	promo := objects.Promotion(ns, name+"-1", name, "f")
	promo.UID = types.UID(name + "-promotion-uid")
	sc := &engine.StepContext{WorkDir: filepath.Join(t.TempDir(), "work"), Project: ns, Stage: name, Promotion: promo,
		Freight: []*kargoapi.Freight{objects.Freight(ns, objects.Image("nginx", "1.26.0"))}}
	status := kargoapi.PromotionStatus{}
	outcome, err := e.Run(ctx, sc, engine.Process{Steps: st.Spec.PromotionTemplate.Spec.Steps}, &status, func(bool) error { return nil })
	require.NoError(t, err)
	return status, outcome
}

// gitstepsStage has adam write a Stage whose promotion clones repo's main
// into ./out, changes a file, commits and pushes with push's
// configuration.
func gitstepsStage(t *testing.T, c client.Client, ns, name, repo, push string) {
	t.Helper()
	cfg := func(s string) *kargoapi.StepConfig { return &kargoapi.StepConfig{Raw: []byte(s)} }
	st := objects.Stage(ns, name, objects.SubscribesTo("w"))
	st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
		{Uses: "git-clone", Config: cfg(`{"repoURL": "` + repo + `", "checkout": [{"branch": "main", "path": "./out"}]}`)},
		{Uses: "yaml-update", Config: cfg(`{"path": "./out/app.yaml", "updates": [{"key": "image", "value": "` + name + `"}]}`)},
		{Uses: "git-commit", Config: cfg(`{"path": "./out"}`)},
		{Uses: "git-push", As: "push", Config: cfg(push)},
	}}}
	require.NoError(t, c.Create(context.Background(), st))
}

// gitstepsUnchanged asserts that repo's branches are where they were and
// that the server received no push.
func gitstepsUnchanged(t *testing.T, s *gitserver.Server, repo string, heads map[string]string, pushes int) {
	t.Helper()
	for b, h := range heads {
		require.Equal(t, h, s.BranchHead(t, repo, b), "branch %s moved", b)
	}
	require.Equal(t, pushes, s.Counts(repo).Pushes, "the server received a push")
}

// adam (kargo-admin) writes Stages whose git steps aim at branches, hosts
// and credentials that are not his Stage's to use. Each promotion fails
// with nothing pushed.
func TestGitStepsAttacks(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "gitsteps")
	env.BindAccessUsers(t, ns)
	adam := env.As(t, kubetest.Adam)
	gs := gitserver.New(t)
	repo := gs.CreateRepo("app")
	gs.Commit(t, "app", "main", map[string]string{"app.yaml": "image: base\n"}, "first")
	wh := objects.Warehouse(ns, "w")
	wh.Spec.Subscriptions.Git = []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(repo), Branch: "main"}}
	require.NoError(t, adam.Create(ctx, wh))

	// Stage prod writes stages/prod first, through its own steps.
	gitstepsStage(t, adam, ns, "prod", repo, `{"path": "./out", "targetBranch": "stages/prod"}`)
	status, outcome := gitstepsRun(t, ns, "prod", gs)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, outcome.Phase, outcome.Message)
	prodHead := gs.BranchHead(t, "app", "stages/prod")
	require.Contains(t, string(status.State.Raw), prodHead)

	t.Run("a later Stage pushes to the branch Stage prod writes", func(t *testing.T) {
		heads := map[string]string{"stages/prod": prodHead, "main": gs.BranchHead(t, "app", "main")}
		pushes := gs.Counts("app").Pushes
		gitstepsStage(t, adam, ns, "thief", repo, `{"path": "./out", "targetBranch": "stages/prod"}`)
		_, outcome := gitstepsRun(t, ns, "thief", gs)
		require.Contains(t, []kargoapi.PromotionPhase{kargoapi.PromotionPhaseFailed, kargoapi.PromotionPhaseErrored}, outcome.Phase, outcome.Message)
		require.Contains(t, outcome.Message, "Stage prod writes branch stages/prod of "+repo+" too, and was created first")
		gitstepsUnchanged(t, gs, "app", heads, pushes)
	})

	t.Run("a Stage pushes to the branch its Warehouse subscribes to", func(t *testing.T) {
		heads := map[string]string{"main": gs.BranchHead(t, "app", "main")}
		pushes := gs.Counts("app").Pushes
		gitstepsStage(t, adam, ns, "loop", repo, `{"path": "./out"}`)
		_, outcome := gitstepsRun(t, ns, "loop", gs)
		require.Contains(t, []kargoapi.PromotionPhase{kargoapi.PromotionPhaseFailed, kargoapi.PromotionPhaseErrored}, outcome.Phase, outcome.Message)
		require.Contains(t, outcome.Message, "writes to branch main of "+repo+", which this Stage's Freight comes from")
		gitstepsUnchanged(t, gs, "app", heads, pushes)
	})

	t.Run("a repoURL with credentials in it", func(t *testing.T) {
		heads := map[string]string{"main": gs.BranchHead(t, "app", "main")}
		pushes, reads := gs.Counts("app").Pushes, gs.Counts("app").InfoRefs
		withCreds := strings.Replace(repo, "http://", "http://robot:hunter2-token@", 1)
		gitstepsStage(t, adam, ns, "userinfo", withCreds, `{"path": "./out", "targetBranch": "stages/userinfo"}`)
		status, outcome := gitstepsRun(t, ns, "userinfo", gs)
		require.Contains(t, []kargoapi.PromotionPhase{kargoapi.PromotionPhaseFailed, kargoapi.PromotionPhaseErrored}, outcome.Phase, outcome.Message)
		require.Contains(t, outcome.Message, "must not hold credentials")
		b, err := json.Marshal(status)
		require.NoError(t, err)
		require.NotContains(t, outcome.Message+string(b), "hunter2-token")
		require.Equal(t, reads, gs.Counts("app").InfoRefs, "the server was asked")
		gitstepsUnchanged(t, gs, "app", heads, pushes)
		require.Empty(t, gs.BranchHead(t, "app", "stages/userinfo"))
	})

	t.Run("a repository on a host the outbound policy refuses", func(t *testing.T) {
		refused := gitserver.New(t)
		other := refused.CreateRepo("app")
		head := refused.Commit(t, "app", "main", map[string]string{"app.yaml": "image: base\n"}, "first")
		gitstepsStage(t, adam, ns, "egress", other, `{"path": "./out", "targetBranch": "stages/egress"}`)
		_, outcome := gitstepsRun(t, ns, "egress", gs)
		require.Contains(t, []kargoapi.PromotionPhase{kargoapi.PromotionPhaseFailed, kargoapi.PromotionPhaseErrored}, outcome.Phase, outcome.Message)
		require.Contains(t, outcome.Message, "refused to connect to "+refused.Host()+": it is a loopback address")
		require.Zero(t, refused.Counts("app").InfoRefs, "the refused host received a request")
		gitstepsUnchanged(t, refused, "app", map[string]string{"main": head}, 0)
	})

	t.Run("a private repository whose credentials are another project's", func(t *testing.T) {
		private := gitserver.New(t, gitserver.WithBasicAuth("robot", "other-project-pass"))
		url := private.CreateRepo("app")
		head := private.Commit(t, "app", "main", map[string]string{"app.yaml": "image: base\n"}, "first")
		elsewhere := env.NewProject(t, "gitsteps-other")
		require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: elsewhere, Labels: map[string]string{kargoapi.CredentialTypeLabelKey: "git"}},
			Data:       map[string][]byte{credentials.RepoURLKey: []byte(url), credentials.UsernameKey: []byte("robot"), credentials.PasswordKey: []byte("other-project-pass")},
		}))
		gitstepsStage(t, adam, ns, "borrow", url, `{"path": "./out", "targetBranch": "stages/borrow"}`)
		_, outcome := gitstepsRun(t, ns, "borrow", private)
		require.Contains(t, []kargoapi.PromotionPhase{kargoapi.PromotionPhaseFailed, kargoapi.PromotionPhaseErrored}, outcome.Phase, outcome.Message)
		require.Contains(t, outcome.Message, "the repository needs credentials")
		gitstepsUnchanged(t, private, "app", map[string]string{"main": head}, 0)
	})
}
