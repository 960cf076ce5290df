package steps

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/manager"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// restartLabel selects the project of the restart test for the controller
// set that plays the restarted controller.
const restartLabel = "test.kargo.akuity.io/steps-restart"

// A controller that stopped after git-push pushed and before the
// Promotion's status recorded it: another controller, on another machine
// (a cache directory of its own), resumes the Promotion from its status,
// rebuilds the work directory, finds the push by its trailer, pushes
// nothing, and finishes the Promotion. The engine's own test
// (internal/promote/steps TestGitPushAfterRestartDoesNotPushAgain) stops
// a run at the same point; this one has the real reconciler resume a
// Promotion as the API server holds it.
func TestStepsControllerRestartedAfterPushDoesNotPushAgain(t *testing.T) {
	ctx := context.Background()
	// A project that no running controller owns: claimed (status.shard)
	// by a controller set that does not run yet.
	project := &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{GenerateName: "steps-restart-", Labels: map[string]string{restartLabel: "true"}}}
	require.NoError(t, env.Admin.Create(ctx, project))
	ns := project.Name
	kubetest.Eventually(t, 30*time.Second, "Project "+ns+" gets its namespace", func() (bool, string) {
		n := &corev1.Namespace{}
		err := env.Admin.Get(ctx, client.ObjectKey{Name: ns}, n)
		return err == nil && n.Labels[kargoapi.ProjectLabelKey] == kargoapi.LabelTrueValue, fmt.Sprint(err)
	})
	require.NoError(t, env.Admin.Status().Patch(ctx, project, client.RawPatch("application/merge-patch+json", []byte(`{"status":{"shard":"restart"}}`))))
	// From here the running controllers leave the project alone (had they
	// run the Promotion below, the server would count two pushes).

	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	repo := gs.CreateRepo("gitops")
	src := gs.Commit(t, "gitops", "main", pipelineSource("test"), "layout")
	st := pipelineStage(ns, "test", repo, kargoapi.Subscriptions{Warehouse: objects.DefaultWarehouse})
	st.Spec.PromotionTemplate.Spec.Steps = st.Spec.PromotionTemplate.Spec.Steps[:6] // through git-push
	require.NoError(t, env.Admin.Create(ctx, st))
	f := objects.Freight(ns, objects.Image("nginx", "1.25.1"), func(f *kargoapi.Freight) {
		f.Commits = []kargoapi.GitCommit{{RepoURL: repo, ID: src, Branch: "main"}}
	})
	require.NoError(t, env.Admin.Create(ctx, f))
	name := stepsPromote(t, ns, "test", f.Name)
	promo := stepsPromotion(t, ns, name)
	require.Len(t, promo.Spec.Steps, 6, "the admission webhook copied the Stage's steps")

	// The first controller runs the Promotion's steps as the reconciler
	// does (the same engine and steps, as the controller's ServiceAccount)
	// and is killed once git-push has pushed, before the status update
	// that records it; what the API server holds is its last save.
	controller := env.As(t, controllers.ServiceAccount, "system:serviceaccounts", "system:serviceaccounts:"+install.Namespace, "system:authenticated")
	policy := egress.New(egress.Options{Allow: egress.MustParseRules(gs.Host())})
	t.Cleanup(func() { _ = policy.Close() })
	first := &engine.Engine{Steps: steps.New(steps.Deps{
		Git:         git.NewCache(t.TempDir(), git.Options{Egress: policy}),
		Credentials: credentials.KubernetesStore{Client: controller}, Client: controller,
	})}
	stage := stepsStage(t, ns, "test")
	sc := &engine.StepContext{WorkDir: filepath.Join(t.TempDir(), string(promo.UID)), Project: ns, Stage: "test", StageObject: stage,
		Promotion: promo, Freight: []*kargoapi.Freight{f}}
	status := kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseRunning, StartTime: &metav1.Time{Time: time.Now()}}
	saved := status.DeepCopy()
	killed := errors.New("controller killed")
	_, err := first.Run(ctx, sc, engine.Process{Vars: promo.Spec.Vars, Steps: promo.Spec.Steps}, &status, func(durable bool) error {
		if status.CurrentStep == 6 {
			return killed
		}
		// Only a durable save reaches the API server; the steps before
		// git-push change only the work directory and wait for the next.
		if durable {
			saved = status.DeepCopy()
		}
		return nil
	})
	require.ErrorIs(t, err, killed)
	require.Zero(t, saved.CurrentStep, "nothing that acted outside the work directory had ended before git-push, so nothing was written")
	pushed := gs.BranchHead(t, "gitops", "stages/test")
	require.NotEmpty(t, pushed, "the first controller pushed")
	pushes := gs.Counts("gitops").Pushes
	require.Equal(t, 1, pushes)
	require.Empty(t, stepsPromotion(t, ns, name).Status.Phase, "no running controller took the Promotion up")
	before := promo.DeepCopy()
	promo.Status = *saved
	require.NoError(t, env.Admin.Status().Patch(ctx, promo, client.MergeFrom(before)))

	// The restarted controller: a controller set of its own, with an
	// empty cache directory, which owns the project.
	controllers.StartSet(t, env, "kargo-restarted", manager.Options{ShardName: "restart", ShardSelector: restartLabel + "=true"})
	p := stepsWaitEnd(t, ns, name, 2*time.Minute)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	require.Equal(t, pushes, gs.Counts("gitops").Pushes, "no second push")
	require.Equal(t, pushed, gs.BranchHead(t, "gitops", "stages/test"))
	require.Len(t, gs.Log(t, "gitops", "stages/test"), 1)
	out := stepsOutputs(t, p)
	require.Equal(t, pushed, out["push"]["commit"], "git-push's output is the commit the first controller pushed")
	require.Equal(t, pushed, out["commit"]["commit"], "the rebuilt work directory made the same commit")
	require.Contains(t, p.Status.Steps[5].Message, "pushed for this Promotion before a restart")
	require.Equal(t, f.Name, stepsStage(t, ns, "test").Status.CurrentFreight.ID)
}
