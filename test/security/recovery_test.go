package security

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/promote"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// recoveryProject is an imagePipeline watching image app, with Stage test
// fed by w and no auto-promotion: every Promotion here is alice's
// (kargo-promoter).
type recoveryProject struct{ *imagePipeline }

func recoveryNewProject(t *testing.T) *recoveryProject {
	t.Helper()
	return &recoveryProject{newImagePipeline(t, "recovery", "app", "",
		pipelineStage{name: "test", subs: kargoapi.Subscriptions{Warehouse: "w"}})}
}

// discover pushes tag and waits until Warehouse w has made Freight of it.
func (p *recoveryProject) discover(t *testing.T, tag string) *kargoapi.Freight {
	t.Helper()
	ctx := context.Background()
	p.reg.PushImage(t, "app", tag, registry.Image{})
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"kargo.akuity.io/refresh":%q}}}`, time.Now().UTC().Format(time.RFC3339Nano))
	require.NoError(t, env.Admin.Patch(ctx, &kargoapi.Warehouse{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: p.ns}},
		client.RawPatch("application/merge-patch+json", []byte(patch))))
	f := &kargoapi.Freight{}
	kubetest.Eventually(t, time.Minute, "Freight of "+tag, func() (bool, string) {
		list := &kargoapi.FreightList{}
		require.NoError(t, env.Admin.List(ctx, list, client.InNamespace(p.ns)))
		for i := range list.Items {
			if im := list.Items[i].Images; len(im) == 1 && im[0].Tag == tag {
				*f = list.Items[i]
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d Freight", len(list.Items))
	})
	return f
}

// promote has alice promote f into test and waits for the Promotion to
// end; it returns the Promotion.
func (p *recoveryProject) promote(t *testing.T, name string, f *kargoapi.Freight) *kargoapi.Promotion {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, freightAs(t, kubetest.Alice).Create(ctx, &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.ns},
		Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: f.Name},
	}))
	promo := &kargoapi.Promotion{}
	kubetest.Eventually(t, time.Minute, "Promotion "+name+" ends", func() (bool, string) {
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: p.ns, Name: name}, promo))
		return promo.Status.Phase.IsTerminal(), fmt.Sprintf("%s: %s", promo.Status.Phase, promo.Status.Message)
	})
	return promo
}

func (p *recoveryProject) stage(t *testing.T) *kargoapi.Stage {
	t.Helper()
	st := &kargoapi.Stage{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: p.ns, Name: "test"}, st))
	return st
}

// released waits until test's claim is gone and returns the Stage.
func (p *recoveryProject) released(t *testing.T) *kargoapi.Stage {
	t.Helper()
	var st *kargoapi.Stage
	kubetest.Eventually(t, time.Minute, "Stage test released", func() (bool, string) {
		st = p.stage(t)
		return st.Status.CurrentPromotion == nil, fmt.Sprintf("%+v", st.Status.CurrentPromotion)
	})
	return st
}

// wedge puts Stage test in the state a controller leaves when it stops in
// the middle of Promotion name (UID uid) of f, after which a promoter
// deleted that Promotion: the Stage claimed for it, and, when pushed, the
// commit the controller made for it on the branch, made by the
// controller's own promotion code. (The Promotion object itself is never
// created: with the controllers running, it would run to its end at once.)
func (p *recoveryProject) wedge(t *testing.T, name string, uid types.UID, f *kargoapi.Freight, pushed bool) {
	t.Helper()
	ctx := context.Background()
	st := p.stage(t)
	if pushed {
		died := &engine.Engine{Steps: steps.New(steps.Deps{Git: git.NewCache(t.TempDir(), git.Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(p.git.Host())})})})}
		out, _, err := died.RunDetached(ctx, &engine.StepContext{
			WorkDir: t.TempDir(), Project: p.ns, Stage: st.Name, StageObject: st, Freight: []*kargoapi.Freight{f},
			Promotion: &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.ns, UID: uid}},
		}, engine.Process{Steps: promote.Process(st.Spec.PromotionMechanisms)})
		require.NoError(t, err)
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase, out.Message)
	}
	sf := freight.Simple(f)
	base := st.DeepCopy()
	st.Status.CurrentPromotion = &kargoapi.PromotionReference{Name: name, UID: uid, Freight: &sf, Phase: kargoapi.PromotionPhaseRunning}
	st.Status.Phase = kargoapi.StagePhasePromoting
	require.NoError(t, env.Admin.Status().Patch(ctx, st, client.MergeFrom(base)))
}

// Recovery from what a promoter can do to a Promotion that runs, and from a
// Freight whose alias was removed.
func TestRecovery(t *testing.T) {
	ctx := context.Background()
	p := recoveryNewProject(t)
	first := p.discover(t, "1.0.0")
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.promote(t, "first", first).Status.Phase)

	t.Run("a promoter deletes a Running Promotion after its commit and the Stage recovers", func(t *testing.T) {
		second := p.discover(t, "1.1.0")
		p.wedge(t, "lost", "0f9a3c2e-5b1d-4e8f-9a7c-000000000001", second, true)
		head := p.git.BranchHead(t, "gitops", "stages/test")

		st := p.released(t)
		require.Equal(t, second.Name, st.Status.CurrentFreight.ID, "the Stage holds what the branch holds")
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, st.Status.LastPromotion.Phase)
		require.Equal(t, "lost", st.Status.LastPromotion.Name)
		require.Equal(t, kargoapi.StagePhaseSteady, st.Status.Phase)
		require.Equal(t, head, p.git.BranchHead(t, "gitops", "stages/test"), "the commit is not made again")

		// Later Promotions run: a rollback to the first Freight commits.
		promo := p.promote(t, "after-lost", first)
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, promo.Status.Phase, promo.Status.Message)
		require.NotEqual(t, head, p.git.BranchHead(t, "gitops", "stages/test"))
		require.Equal(t, first.Name, p.stage(t).Status.CurrentFreight.ID)
	})

	t.Run("a promoter deletes a Running Promotion before its commit and the Stage keeps its Freight", func(t *testing.T) {
		third := p.discover(t, "1.2.0")
		head := p.git.BranchHead(t, "gitops", "stages/test")
		p.wedge(t, "cut-short", "0f9a3c2e-5b1d-4e8f-9a7c-000000000002", third, false)

		st := p.released(t)
		require.Equal(t, first.Name, st.Status.CurrentFreight.ID)
		require.Equal(t, kargoapi.PromotionPhaseErrored, st.Status.LastPromotion.Phase)
		require.Equal(t, head, p.git.BranchHead(t, "gitops", "stages/test"), "nothing is committed for the deleted Promotion")

		promo := p.promote(t, "after-cut-short", third)
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, promo.Status.Phase, promo.Status.Message)
		require.Equal(t, third.Name, p.stage(t).Status.CurrentFreight.ID)
	})

	t.Run("a promoter deletes a Running Promotion while the controller pushes and the Stage still records it", func(t *testing.T) {
		fourth := p.discover(t, "1.3.0")
		alice := freightAs(t, kubetest.Alice)
		deleted := make(chan error, 1)
		p.git.BeforeNextPush("gitops", func() {
			deleted <- alice.Delete(ctx, &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "deleted-mid-push", Namespace: p.ns}})
		})
		require.NoError(t, alice.Create(ctx, &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{Name: "deleted-mid-push", Namespace: p.ns},
			Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: fourth.Name},
		}))
		select {
		case err := <-deleted:
			require.NoError(t, err, "alice may delete a Running Promotion")
		case <-time.After(time.Minute):
			t.Fatal("the controller never pushed")
		}
		kubetest.Eventually(t, time.Minute, "Stage test holds "+fourth.Name, func() (bool, string) {
			st := p.stage(t)
			return st.Status.CurrentPromotion == nil && st.Status.CurrentFreight.ID == fourth.Name, fmt.Sprintf("%+v", st.Status)
		})
		promo := p.promote(t, "after-mid-push", first)
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, promo.Status.Phase, promo.Status.Message)
	})

	t.Run("carol removes a Freight's alias and it can still be promoted", func(t *testing.T) {
		fifth := p.discover(t, "1.4.0")
		require.NotEmpty(t, fifth.Alias)
		carol := freightAs(t, kubetest.Carol)
		patch := `{"alias":null,"metadata":{"labels":{"` + kargoapi.AliasLabelKey + `":null}}}`
		require.NoError(t, carol.Patch(ctx, fifth.DeepCopy(), client.RawPatch("application/merge-patch+json", []byte(patch))))
		got := &kargoapi.Freight{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(fifth), got))
		require.Empty(t, got.Alias)
		require.NotContains(t, got.Labels, kargoapi.AliasLabelKey)

		head := p.git.BranchHead(t, "gitops", "stages/test")
		promo := p.promote(t, "no-alias", fifth)
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, promo.Status.Phase, promo.Status.Message)
		log := p.git.Log(t, "gitops", "stages/test")
		require.NotEqual(t, head, log[0].SHA, "one commit")
		require.Equal(t, head, log[1].SHA)
		require.Equal(t, "Promote "+fifth.Name+" to test", log[0].Subject)
		require.Contains(t, log[0].Message, "Kargo-Freight: "+fifth.Name)
		require.False(t, strings.Contains(log[0].Message, "Kargo-Freight-Alias"), log[0].Message)
		require.Equal(t, fifth.Name, p.stage(t).Status.CurrentFreight.ID)
	})
}
