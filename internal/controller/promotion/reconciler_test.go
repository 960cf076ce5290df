package promotion

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/argocd"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/promote"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

const ns = "kargo-demo"

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// harness runs the reconciler with the real steps (the engine, the steps
// of promotionMechanisms, the Git cache) against an in-process Git server
// whose repository "gitops" Stage "test" writes, on branch stages/test.
type harness struct {
	r  *Reconciler
	c  client.Client
	gs *gitserver.Server
	// now is the time the reconciler and the steps tell.
	now time.Time
}

// testStage is Stage test, which sets the nginx image in stages/test on
// branch stages/test, read from main.
func testStage(gs *gitserver.Server, opts ...objects.Option[kargoapi.Stage]) *kargoapi.Stage {
	return objects.Stage(ns, "test", append([]objects.Option[kargoapi.Stage]{objects.SubscribesTo("w"), objects.GitUpdates(kustomizeUpdate(gs.RepoURL("gitops"), "stages/test"))}, opts...)...)
}

func kustomizeUpdate(repo, path string) kargoapi.GitRepoUpdate {
	return kargoapi.GitRepoUpdate{
		RepoURL: kargoapi.GitRepoURL(repo), ReadBranch: "main", WriteBranch: "stages/test",
		Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{Image: "nginx", Path: kargoapi.RepoPath(path)}}},
	}
}

func setup(t *testing.T, objs ...func(gs *gitserver.Server) client.Object) *harness {
	t.Helper()
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{"stages/test/kustomization.yaml": "resources: []\n"}, "init")
	s, err := scheme.New()
	require.NoError(t, err)
	var built []client.Object
	for _, o := range objs {
		obj := o(gs)
		if p, ok := obj.(*kargoapi.Promotion); ok && p.UID == "" {
			p.UID = types.UID("uid-" + p.Name)
		}
		built = append(built, obj)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(built...).
		WithStatusSubresource(&kargoapi.Stage{}, &kargoapi.Freight{}, &kargoapi.Promotion{}).
		WithIndex(&kargoapi.Promotion{}, index.PromotionsByStage, index.PromotionStage).Build()
	cache := git.NewCache(t.TempDir(), git.Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(gs.Host())})})
	h := &harness{c: c, gs: gs, now: t0.Add(time.Minute)}
	now := func() time.Time { return h.now }
	h.r = &Reconciler{
		Client: c, Recorder: events.NewFakeRecorder(50), HistoryLimit: 2,
		Lander:  &promote.Promoter{Git: cache},
		Steps:   &engine.Engine{Steps: steps.New(steps.Deps{Git: cache, Client: c, ArgoCD: &argocd.Updater{Client: c}}), Now: now},
		WorkDir: t.TempDir(),
		Now:     now,
	}
	return h
}

// obj makes an object that does not depend on the Git server.
func obj(o client.Object) func(*gitserver.Server) client.Object {
	return func(*gitserver.Server) client.Object { return o }
}

// stage makes Stage test, with opts.
func stage(opts ...objects.Option[kargoapi.Stage]) func(*gitserver.Server) client.Object {
	return func(gs *gitserver.Server) client.Object { return testStage(gs, opts...) }
}

// running leaves Stage test claimed by Promotion name, Running since t0
// with the steps of status, as a controller that stopped leaves them.
func (h *harness) running(t *testing.T, name string, status kargoapi.PromotionStatus) {
	t.Helper()
	st := h.stage(t, "test")
	base := st.DeepCopy()
	st.Status.CurrentPromotion = &kargoapi.PromotionReference{Name: name, UID: types.UID("uid-" + name), Phase: kargoapi.PromotionPhaseRunning}
	require.NoError(t, h.c.Status().Patch(context.Background(), st, client.MergeFrom(base)))
	p := h.promotion(t, name)
	pbase := p.DeepCopy()
	started := metav1.NewTime(t0)
	status.Phase, status.StartTime = kargoapi.PromotionPhaseRunning, &started
	p.Status = status
	require.NoError(t, h.c.Status().Patch(context.Background(), p, client.MergeFrom(pbase)))
}

// claimed leaves Stage test claimed by Promotion name, whose status the
// controller that stopped had not written yet.
func (h *harness) claimed(t *testing.T, name string) {
	t.Helper()
	st := h.stage(t, "test")
	base := st.DeepCopy()
	st.Status.CurrentPromotion = &kargoapi.PromotionReference{Name: name, UID: types.UID("uid-" + name), Phase: kargoapi.PromotionPhaseRunning}
	st.Status.Phase = kargoapi.StagePhasePromoting
	require.NoError(t, h.c.Status().Patch(context.Background(), st, client.MergeFrom(base)))
}

// committed returns the Promotions (by UID) whose commits branch
// stages/test holds, oldest first.
func (h *harness) committed(t *testing.T) []string {
	t.Helper()
	if strings.TrimSpace(h.gs.Git(t, "gitops", "", "branch", "--list", "stages/test")) == "" {
		return nil
	}
	var uids []string
	for _, e := range h.gs.Log(t, "gitops", "stages/test") {
		for _, line := range strings.Split(e.Message, "\n") {
			if uid, ok := strings.CutPrefix(line, promote.TrailerPromotion+": "); ok {
				uids = append([]string{uid}, uids...)
			}
		}
	}
	return uids
}

func (h *harness) reconcile(t *testing.T, name string) {
	t.Helper()
	_, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}})
	require.NoError(t, err)
}

func (h *harness) promotion(t *testing.T, name string) *kargoapi.Promotion {
	t.Helper()
	p := &kargoapi.Promotion{}
	require.NoError(t, h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, p))
	return p
}

func (h *harness) stage(t *testing.T, name string) *kargoapi.Stage {
	t.Helper()
	s := &kargoapi.Stage{}
	require.NoError(t, h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s))
	return s
}

func (h *harness) freight(t *testing.T, name string) *kargoapi.Freight {
	t.Helper()
	f := &kargoapi.Freight{}
	require.NoError(t, h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, f))
	return f
}

func f1() func(*gitserver.Server) client.Object {
	return obj(objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)))
}

// A Stage's promotionMechanisms run as steps, each recorded in the
// Promotion's status, and the Promotion's message says what they did.
func TestSuccessfulPromotionUpdatesStageAndFreight(t *testing.T) {
	h := setup(t, stage(), f1(), obj(objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0))))
	h.reconcile(t, "p1")

	p := h.promotion(t, "p1")
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	head := h.gs.BranchHead(t, "gitops", "stages/test")
	require.Equal(t, "Promoted Freight f1-alias (f1) into test: committed "+head[:7]+" to "+h.gs.RepoURL("gitops")+" stages/test", p.Status.Message)
	require.NotNil(t, p.Status.StartTime)
	require.NotNil(t, p.Status.CompletionTime)
	require.Contains(t, h.gs.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "newTag: 1.24.0")

	// status.steps shows the mechanisms step by step.
	require.EqualValues(t, 2, p.Status.CurrentStep)
	require.Len(t, p.Status.Steps, 2)
	require.Equal(t, "check", p.Status.Steps[0].Alias)
	require.Equal(t, kargoapi.StepStatusSucceeded, p.Status.Steps[0].Status)
	require.Equal(t, "git-update-0", p.Status.Steps[1].Alias)
	require.Equal(t, kargoapi.StepStatusSucceeded, p.Status.Steps[1].Status)
	require.Equal(t, "committed "+head[:7]+" to "+h.gs.RepoURL("gitops")+" stages/test", p.Status.Steps[1].Message)
	require.Contains(t, string(p.Status.State.Raw), `"commit":"`+head+`"`)

	st := h.stage(t, "test")
	require.Equal(t, "f1", st.Status.CurrentFreight.ID)
	require.Equal(t, "f1", st.Status.History[0].ID)
	require.Nil(t, st.Status.CurrentPromotion)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, st.Status.LastPromotion.Phase)
	require.Equal(t, kargoapi.StagePhaseSteady, st.Status.Phase)
	require.Contains(t, h.freight(t, "f1").Status.VerifiedIn, "test", "no health source: promotion verifies")
	entries, err := os.ReadDir(h.r.WorkDir)
	require.NoError(t, err)
	require.Empty(t, entries, "a finished Promotion's work directory is removed")
}

func TestPromotionsRunOneAtATimeInCreationOrder(t *testing.T) {
	h := setup(t, stage(),
		f1(), obj(objects.Freight(ns, objects.FreightName("f2"), objects.Image("nginx", "1.25.0"), objects.Alias("f2-alias"), objects.FreightCreated(t0))), obj(objects.Freight(ns, objects.FreightName("f3"), objects.Image("nginx", "1.26.0"), objects.Alias("f3-alias"), objects.FreightCreated(t0))),
		obj(objects.Promotion(ns, "b-newer", "test", "f2", objects.PromotionCreated(t0.Add(-time.Minute)))), obj(objects.Promotion(ns, "a-older", "test", "f1", objects.PromotionCreated(t0.Add(-2*time.Minute)))), obj(objects.Promotion(ns, "c-newest", "test", "f3", objects.PromotionCreated(t0))))

	h.reconcile(t, "b-newer")
	h.reconcile(t, "c-newest")
	require.Empty(t, h.committed(t), "only the oldest may run")
	require.Equal(t, kargoapi.PromotionPhasePending, h.promotion(t, "b-newer").Status.Phase)
	require.Equal(t, "Waiting for Promotion a-older to finish", h.promotion(t, "b-newer").Status.Message)

	h.reconcile(t, "a-older")
	h.reconcile(t, "c-newest")
	h.reconcile(t, "b-newer")
	h.reconcile(t, "c-newest")
	require.Equal(t, []string{"uid-a-older", "uid-b-newer", "uid-c-newest"}, h.committed(t))
	st := h.stage(t, "test")
	require.Equal(t, "f3", st.Status.CurrentFreight.ID)
	require.Len(t, st.Status.History, 2, "history is bounded")
	require.Equal(t, []string{"f3", "f2"}, []string{st.Status.History[0].ID, st.Status.History[1].ID})
}

func TestPromotionFailures(t *testing.T) {
	cases := []struct {
		name      string
		promo     *kargoapi.Promotion
		stage     []objects.Option[kargoapi.Stage]
		gitDown   bool
		wantPhase kargoapi.PromotionPhase
		wantMsg   string
	}{
		{"missing stage", objects.Promotion(ns, "p", "nope", "f1", objects.PromotionCreated(t0)), nil, false, kargoapi.PromotionPhaseFailed, "Stage nope does not exist in project kargo-demo"},
		{"missing freight", objects.Promotion(ns, "p", "uat", "f9", objects.PromotionCreated(t0)), nil, false, kargoapi.PromotionPhaseFailed, "Freight f9 does not exist"},
		{"not verified upstream", objects.Promotion(ns, "p", "uat", "f1", objects.PromotionCreated(t0)), nil, false, kargoapi.PromotionPhaseFailed, "Freight is not available to Stage uat: Freight f1-alias (f1) is not verified in upstream Stage test"},
		{"bad mechanism", objects.Promotion(ns, "p", "test", "f1", objects.PromotionCreated(t0)), []objects.Option[kargoapi.Stage]{func(st *kargoapi.Stage) {
			st.Spec.PromotionMechanisms.GitRepoUpdates[0].Kustomize.Images[0].Path = "nowhere"
		}}, false, kargoapi.PromotionPhaseFailed, "Promotion failed: gitRepoUpdates[0] ("},
		{"git down", objects.Promotion(ns, "p", "test", "f1", objects.PromotionCreated(t0)), nil, true, kargoapi.PromotionPhaseErrored, "; the repositories and the Stage are unchanged"},
		{"a write branch the Stage's Freight comes from", objects.Promotion(ns, "p", "test", "f1", objects.PromotionCreated(t0)), nil, false, kargoapi.PromotionPhaseFailed, "in a loop"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Warehouse w watches stages/test in the loop case.
			wh := func(gs *gitserver.Server) client.Object {
				w := objects.Warehouse(ns, "w")
				if tc.wantMsg == "in a loop" {
					w.Spec.Subscriptions.Git = []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(gs.RepoURL("gitops")), Branch: "stages/test"}}
				}
				return w
			}
			h := setup(t, stage(tc.stage...), obj(objects.Stage(ns, "uat", objects.UpstreamStages("test"))), f1(), wh, obj(tc.promo))
			if tc.gitDown {
				h.gs.Fail(503)
			}
			h.reconcile(t, "p")
			p := h.promotion(t, "p")
			require.Equal(t, tc.wantPhase, p.Status.Phase, p.Status.Message)
			require.Contains(t, p.Status.Message, tc.wantMsg)
			if st := (&kargoapi.Stage{}); h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: tc.promo.Spec.Stage}, st) == nil {
				require.Nil(t, st.Status.CurrentFreight, "a failed promotion changes no current Freight")
				require.Nil(t, st.Status.CurrentPromotion)
			}
			require.NotContains(t, h.freight(t, "f1").Status.VerifiedIn, tc.promo.Spec.Stage)
			h.gs.Fail(0)
			require.Empty(t, h.committed(t), "nothing was written")
		})
	}
}

// A Promotion whose second Git update fails says what the first pushed.
func TestAFailureAfterAPushSaysWhatWasPushed(t *testing.T) {
	h := setup(t, stage(func(st *kargoapi.Stage) {
		second := kustomizeUpdate(string(st.Spec.PromotionMechanisms.GitRepoUpdates[0].RepoURL), "nowhere")
		second.WriteBranch = "stages/other"
		st.Spec.PromotionMechanisms.GitRepoUpdates = append(st.Spec.PromotionMechanisms.GitRepoUpdates, second)
	}), f1(), obj(objects.Promotion(ns, "p", "test", "f1", objects.PromotionCreated(t0))))
	h.reconcile(t, "p")
	p := h.promotion(t, "p")
	require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase)
	head := h.gs.BranchHead(t, "gitops", "stages/test")
	require.Regexp(t, `^Promotion failed: gitRepoUpdates\[1\] \(.*, branch stages/other\): .*: no kustomization.yaml in nowhere .*; before that: committed `+head[:7]+` to .* stages/test; the Stage is unchanged$`, p.Status.Message)
	require.Equal(t, []kargoapi.StepStatus{kargoapi.StepStatusSucceeded, kargoapi.StepStatusSucceeded, kargoapi.StepStatusFailed},
		[]kargoapi.StepStatus{p.Status.Steps[0].Status, p.Status.Steps[1].Status, p.Status.Steps[2].Status})
	require.Nil(t, h.stage(t, "test").Status.CurrentFreight)
}

func TestPromotingTheCurrentFreightTouchesNothing(t *testing.T) {
	h := setup(t, stage(func(st *kargoapi.Stage) {
		st.Status.CurrentFreight = &kargoapi.SimpleFreight{ID: "f1"}
		st.Status.History = []kargoapi.SimpleFreight{{ID: "f1"}}
	}), f1(), obj(objects.Promotion(ns, "again", "test", "f1", objects.PromotionCreated(t0))))
	h.reconcile(t, "again")
	require.Empty(t, h.committed(t))
	p := h.promotion(t, "again")
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase)
	require.Contains(t, p.Status.Message, "already the current Freight of test; nothing changed")
	require.Empty(t, p.Status.Steps, "no step ran")
	require.Len(t, h.stage(t, "test").Status.History, 1)
}

// A controller that died after claiming the Stage and pushing, before it
// recorded the push, finishes the Promotion when it comes back: the commit
// is found by its trailer, not made again, and the Promotion ends once.
// It may have written Running with the steps before the push, or nothing
// at all to the Promotion (the claim alone says it started: Running waits
// for the first write that must be durable), even when an older
// Promotion (by name, created in the same second) is queued.
func TestRestartFinishesARunningPromotion(t *testing.T) {
	for name, wroteRunning := range map[string]bool{"Running written": true, "only the Stage claimed": false} {
		t.Run(name, func(t *testing.T) {
			h := setup(t, stage(), f1(), obj(objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0))),
				obj(objects.Promotion(ns, "p0-other", "test", "f1", objects.PromotionCreated(t0))))
			// The commit the controller pushed before it died.
			died := &engine.StepContext{WorkDir: t.TempDir(), Project: ns, Stage: "test", StageObject: h.stage(t, "test"), Promotion: h.promotion(t, "p1"), Freight: []*kargoapi.Freight{h.freight(t, "f1")}}
			out, _, err := h.r.Steps.RunDetached(context.Background(), died, engine.Process{Steps: promote.Process(died.StageObject.Spec.PromotionMechanisms)})
			require.NoError(t, err)
			require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase, out.Message)
			head := h.gs.BranchHead(t, "gitops", "stages/test")
			if wroteRunning {
				h.running(t, "p1", kargoapi.PromotionStatus{})
			} else {
				h.claimed(t, "p1")
			}

			h.reconcile(t, "p0-other")
			require.Equal(t, kargoapi.PromotionPhasePending, h.promotion(t, "p0-other").Status.Phase, "the running Promotion keeps its turn")
			h.reconcile(t, "p1")
			p := h.promotion(t, "p1")
			require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
			require.Contains(t, p.Status.Message, "stages/test @ "+head[:7]+" (committed before a restart)")
			require.NotNil(t, p.Status.StartTime)
			require.Equal(t, []string{"uid-p1"}, h.committed(t), "exactly one commit")
			require.Equal(t, "f1", h.stage(t, "test").Status.CurrentFreight.ID)
		})
	}
}

// A Stage whose promotionMechanisms gain or lose an update while a
// Promotion runs does not have the Promotion's recorded steps mistaken for
// others: the Promotion errs and says so.
func TestMechanismsChangedWhileRunning(t *testing.T) {
	h := setup(t, stage(), f1(), obj(objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0))))
	// It ran its check and an Argo CD update, which the Stage no longer has
	// (recorded as the second step, where the Stage now has a Git update).
	h.running(t, "p1", kargoapi.PromotionStatus{CurrentStep: 1, Steps: []kargoapi.StepExecution{
		{Alias: "check", Status: kargoapi.StepStatusSucceeded}, {Alias: "argocd-update", Status: kargoapi.StepStatusRunning, Message: "a sync is running"},
	}})
	h.reconcile(t, "p1")
	p := h.promotion(t, "p1")
	require.Equal(t, kargoapi.PromotionPhaseErrored, p.Status.Phase)
	require.Contains(t, p.Status.Message, "its Stage's promotionMechanisms changed while it ran: step 2 was argocd-update and is now check, git-update-0")
	require.Empty(t, h.committed(t))
}

// A Promotion deleted while it ran (say, while the controller was down)
// leaves the Stage claimed; its claim is released, and what the Stage's
// branches hold of it decides the Stage's current Freight.
func TestDeletedRunningPromotionReleasesItsStage(t *testing.T) {
	f0 := obj(objects.Freight(ns, objects.FreightName("f0"), objects.Image("nginx", "1.23.0"), objects.Alias("f0-alias"), objects.FreightCreated(t0)))
	// claim leaves Stage test as a controller that stopped while
	// Promotion gone (UID uid-gone) of f1 ran leaves it, after a promoter
	// deleted gone; pushed says whether its commit reached the branch.
	claim := func(t *testing.T, h *harness, pushed bool) {
		t.Helper()
		st := h.stage(t, "test")
		if pushed {
			died := &engine.StepContext{WorkDir: t.TempDir(), Project: ns, Stage: "test", StageObject: st,
				Promotion: &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gone", UID: "uid-gone"}}, Freight: []*kargoapi.Freight{h.freight(t, "f1")}}
			out, _, err := h.r.Steps.RunDetached(context.Background(), died, engine.Process{Steps: promote.Process(st.Spec.PromotionMechanisms)})
			require.NoError(t, err)
			require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase, out.Message)
		}
		base := st.DeepCopy()
		st.Status.CurrentFreight = &kargoapi.SimpleFreight{ID: "f0"}
		st.Status.CurrentPromotion = &kargoapi.PromotionReference{Name: "gone", UID: "uid-gone", Freight: &kargoapi.SimpleFreight{ID: "f1"}, Phase: kargoapi.PromotionPhaseRunning}
		st.Status.Phase = kargoapi.StagePhasePromoting
		require.NoError(t, h.c.Status().Patch(context.Background(), st, client.MergeFrom(base)))
	}

	t.Run("its commit is on the branch: the Stage holds its Freight", func(t *testing.T) {
		h := setup(t, stage(), f0, f1(), obj(objects.Promotion(ns, "next", "test", "f0", objects.PromotionCreated(t0))))
		claim(t, h, true)
		h.reconcile(t, "next")
		require.Equal(t, kargoapi.PromotionPhasePending, h.promotion(t, "next").Status.Phase, "the claim is released first")
		h.reconcile(t, "gone")
		st := h.stage(t, "test")
		require.Nil(t, st.Status.CurrentPromotion)
		require.Equal(t, "f1", st.Status.CurrentFreight.ID)
		require.Equal(t, &kargoapi.PromotionReference{Name: "gone", UID: "uid-gone", Freight: st.Status.CurrentFreight, Phase: kargoapi.PromotionPhaseSucceeded}, st.Status.LastPromotion)
		require.Equal(t, []string{"uid-gone"}, h.committed(t), "the rest of it is finished, its commit not made again")
		h.reconcile(t, "next")
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "next").Status.Phase, "later Promotions run")
		require.Equal(t, "f0", h.stage(t, "test").Status.CurrentFreight.ID)
		require.Equal(t, []string{"uid-gone", "uid-next"}, h.committed(t))
	})

	t.Run("its commit never reached the branch: the Stage keeps its Freight", func(t *testing.T) {
		h := setup(t, stage(), f0, f1())
		claim(t, h, false)
		h.reconcile(t, "gone")
		st := h.stage(t, "test")
		require.Nil(t, st.Status.CurrentPromotion)
		require.Equal(t, "f0", st.Status.CurrentFreight.ID)
		require.Equal(t, kargoapi.PromotionPhaseErrored, st.Status.LastPromotion.Phase)
		require.Equal(t, kargoapi.StagePhaseFailed, st.Status.Phase)
		require.Empty(t, h.committed(t), "nothing is promoted on the deleted Promotion's behalf")
	})

	t.Run("a Promotion of the same name created since does not inherit the claim", func(t *testing.T) {
		again := objects.Promotion(ns, "gone", "test", "f0", objects.PromotionCreated(t0))
		again.UID = "uid-new"
		h := setup(t, stage(), f0, f1(), obj(again))
		claim(t, h, false)
		h.reconcile(t, "gone")
		require.Equal(t, kargoapi.PromotionPhaseErrored, h.stage(t, "test").Status.LastPromotion.Phase, "the old claim is released")
		h.reconcile(t, "gone")
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "gone").Status.Phase)
		require.Equal(t, types.UID("uid-new"), h.stage(t, "test").Status.LastPromotion.UID)
	})

	t.Run("a claim whose Promotion exists is left alone", func(t *testing.T) {
		running := objects.Promotion(ns, "gone", "test", "f1", objects.PromotionCreated(t0))
		running.UID = "uid-gone"
		h := setup(t, stage(), f0, f1(), obj(running))
		claim(t, h, false)
		require.NoError(t, h.r.releaseClaim(context.Background(), h.stage(t, "test")))
		require.Equal(t, "gone", h.stage(t, "test").Status.CurrentPromotion.Name)
		require.Empty(t, h.r.orphanedClaim(context.Background(), h.stage(t, "test")))
	})
}

// A Promotion that ends while its Stage's claim names it (a restarted
// controller resuming one whose Freight was deleted meanwhile) releases
// the claim; and a claim that names a Promotion that has ended anyway
// (left by a controller of before this) is released by the next one, so
// the Stage's later Promotions never wait for it forever.
func TestAnEndedPromotionDoesNotKeepItsStageClaimed(t *testing.T) {
	t.Run("its Freight is gone when it resumes", func(t *testing.T) {
		h := setup(t, stage(), f1(), obj(objects.Promotion(ns, "p1", "test", "deleted-freight", objects.PromotionCreated(t0))),
			obj(objects.Promotion(ns, "p2", "test", "f1", objects.PromotionCreated(t0.Add(time.Second)))))
		h.claimed(t, "p1")
		h.reconcile(t, "p1")
		p1 := h.promotion(t, "p1")
		require.Equal(t, kargoapi.PromotionPhaseFailed, p1.Status.Phase)
		require.Contains(t, p1.Status.Message, "Freight deleted-freight does not exist")
		st := h.stage(t, "test")
		require.Nil(t, st.Status.CurrentPromotion, "the claim is released")
		require.Equal(t, "p1", st.Status.LastPromotion.Name)
		require.Equal(t, kargoapi.PromotionPhaseFailed, st.Status.LastPromotion.Phase)
		require.Equal(t, kargoapi.StagePhaseFailed, st.Status.Phase)
		h.reconcile(t, "p2")
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "p2").Status.Phase, h.promotion(t, "p2").Status.Message)
	})

	t.Run("a claim left naming an ended Promotion", func(t *testing.T) {
		h := setup(t, stage(), f1(), obj(objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0))),
			obj(objects.Promotion(ns, "p2", "test", "f1", objects.PromotionCreated(t0.Add(time.Second)))))
		h.claimed(t, "p1")
		p1 := h.promotion(t, "p1")
		base := p1.DeepCopy()
		p1.Status.Phase, p1.Status.Message = kargoapi.PromotionPhaseFailed, "ended elsewhere"
		require.NoError(t, h.c.Status().Patch(context.Background(), p1, client.MergeFrom(base)))
		h.reconcile(t, "p2")
		st := h.stage(t, "test")
		require.Nil(t, st.Status.CurrentPromotion, "the next Promotion releases the claim first")
		require.Equal(t, kargoapi.PromotionPhaseFailed, st.Status.LastPromotion.Phase)
		h.reconcile(t, "p2")
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "p2").Status.Phase, h.promotion(t, "p2").Status.Message)
		require.Equal(t, "f1", h.stage(t, "test").Status.CurrentFreight.ID)
	})
}

// decide is the whole of a Promotion's "may it run now" logic, without a
// client.
func TestDecide(t *testing.T) {
	running := func(p *kargoapi.Promotion) kargoapi.Promotion {
		p.Status.Phase = kargoapi.PromotionPhaseRunning
		return *p
	}
	ended := func(p *kargoapi.Promotion) kargoapi.Promotion {
		p.Status.Phase = kargoapi.PromotionPhaseSucceeded
		return *p
	}
	claimedBy := func(st *kargoapi.Stage, name string, uid types.UID) *kargoapi.Stage {
		st.Status.CurrentPromotion = &kargoapi.PromotionReference{Name: name, UID: uid}
		return st
	}
	fromWarehouse := kargoapi.Subscriptions{Warehouse: "w"}
	mine := objects.Promotion(ns, "p2", "test", "f1", objects.PromotionCreated(t0.Add(-time.Minute)))
	mine.UID = "uid-p2"
	older := objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0.Add(-2*time.Minute)))

	for _, tc := range []struct {
		name        string
		in          inputs
		next        step
		message     string
		requeueSoon bool
	}{{
		name: "no Stage", in: inputs{promo: mine},
		next: stepEnd, message: "Stage test does not exist in project kargo-demo",
	}, {
		name: "an older Promotion waits ahead",
		in:   inputs{promo: mine, stage: objects.Stage(ns, "test", objects.Subscriptions(fromWarehouse)), freight: objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), queue: []kargoapi.Promotion{*older, *mine}},
		next: stepWait, message: "Waiting for Promotion p1 to finish",
	}, {
		name: "a running Promotion holds the queue, even a younger one",
		in:   inputs{promo: mine, stage: objects.Stage(ns, "test", objects.Subscriptions(fromWarehouse)), freight: objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), queue: []kargoapi.Promotion{*mine, running(objects.Promotion(ns, "p3", "test", "f1", objects.PromotionCreated(t0)))}},
		next: stepWait, message: "Waiting for Promotion p3 to finish",
	}, {
		name: "ended Promotions do not hold the queue",
		in:   inputs{promo: mine, stage: objects.Stage(ns, "test", objects.Subscriptions(fromWarehouse)), freight: objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), queue: []kargoapi.Promotion{ended(older.DeepCopy()), *mine}},
		next: stepRun,
	}, {
		name: "the Stage is claimed by a Promotion the cache does not show yet",
		in:   inputs{promo: mine, stage: claimedBy(objects.Stage(ns, "test", objects.Subscriptions(fromWarehouse)), "p9", "uid-p9"), freight: objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), queue: []kargoapi.Promotion{*mine}},
		next: stepWait, message: "Waiting for Promotion p9 to finish", requeueSoon: true,
	}, {
		name: "the Stage is claimed by a deleted Promotion of the same name",
		in:   inputs{promo: mine, stage: claimedBy(objects.Stage(ns, "test", objects.Subscriptions(fromWarehouse)), "p2", "uid-old"), freight: objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), queue: []kargoapi.Promotion{*mine}},
		next: stepReleaseStale,
	}, {
		name: "its own claim: a restarted controller resumes",
		in:   inputs{promo: mine, stage: claimedBy(objects.Stage(ns, "test", objects.Subscriptions(fromWarehouse)), "p2", "uid-p2"), freight: objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), queue: []kargoapi.Promotion{*mine}},
		next: stepRun,
	}, {
		name: "no Freight",
		in:   inputs{promo: mine, stage: objects.Stage(ns, "test", objects.Subscriptions(fromWarehouse)), queue: []kargoapi.Promotion{*mine}},
		next: stepEnd, message: "Freight f1 does not exist in project kargo-demo",
	}, {
		name: "Freight not available",
		in:   inputs{promo: mine, stage: objects.Stage(ns, "uat", objects.UpstreamStages("test")), freight: objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), queue: []kargoapi.Promotion{*mine}},
		next: stepEnd, message: "Freight is not available to Stage uat",
	}, {
		name: "Freight verified upstream",
		in:   inputs{promo: mine, stage: objects.Stage(ns, "uat", objects.UpstreamStages("test")), freight: objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0), objects.VerifiedIn("test")), queue: []kargoapi.Promotion{*mine}},
		next: stepRun,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(tc.in, t0)
			require.Equal(t, tc.next, d.next)
			require.Contains(t, d.message, tc.message)
			require.Equal(t, tc.requeueSoon, d.after > 0)
		})
	}
}

// A Promotion with steps runs them through the engine, records each step in
// its status, and ends as they end.
func TestPromotionRunsItsSteps(t *testing.T) {
	cfg := func(s string) *kargoapi.StepConfig { return &kargoapi.StepConfig{Raw: []byte(s)} }
	for _, tc := range []struct {
		name    string
		steps   []kargoapi.PromotionStep
		phase   kargoapi.PromotionPhase
		message string
		current string
	}{{
		name: "every step succeeds",
		steps: []kargoapi.PromotionStep{
			{Uses: "compose-output", As: "out", Config: cfg(`{"tag": "${{ imageFrom('nginx').Tag }}"}`)},
			{Uses: "delete", Config: cfg(`{"path": "nothing-${{ outputs.out.tag }}"}`)},
		},
		phase: kargoapi.PromotionPhaseSucceeded, message: "Promoted Freight f1-alias (f1) into test: nothing-1.24.0 did not exist", current: "f1",
	}, {
		name:  "a step fails",
		steps: []kargoapi.PromotionStep{{Uses: "delete", As: "strict", Config: cfg(`{"path": "x", "strict": true}`)}},
		phase: kargoapi.PromotionPhaseFailed, message: "Promotion failed: step strict failed: path x does not exist (strict)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0))
			p.Spec.Steps = tc.steps
			h := setup(t, obj(objects.Stage(ns, "test", objects.SubscribesTo("w"))), f1(), obj(p))
			h.reconcile(t, "p1")
			got := h.promotion(t, "p1")
			require.Equal(t, tc.phase, got.Status.Phase, got.Status.Message)
			require.Contains(t, got.Status.Message, tc.message)
			require.Len(t, got.Status.Steps, len(tc.steps))
			require.EqualValues(t, len(tc.steps), got.Status.CurrentStep)
			st := h.stage(t, "test")
			if tc.current != "" {
				require.Equal(t, tc.current, st.Status.CurrentFreight.ID)
			} else {
				require.Nil(t, st.Status.CurrentFreight)
			}
			entries, err := os.ReadDir(h.r.WorkDir)
			require.NoError(t, err)
			require.Empty(t, entries, "a finished Promotion's work directory is removed")
		})
	}
}

// argoApp is Application app-test in argocd, which lets Stage test change
// it when authorized, and deploys stages/test of the Git server's gitops.
func argoApp(authorized bool, phase argocdv1.OperationPhase) func(*gitserver.Server) client.Object {
	return func(gs *gitserver.Server) client.Object {
		app := &argocdv1.Application{
			ObjectMeta: metav1.ObjectMeta{Namespace: argocd.DefaultNamespace, Name: "app-test"},
			Spec:       argocdv1.ApplicationSpec{Source: &argocdv1.ApplicationSource{RepoURL: gs.RepoURL("gitops"), Path: "stages/test", TargetRevision: "stages/test"}},
		}
		if authorized {
			app.Annotations = map[string]string{kargoapi.AuthorizedStageAnnotationKey: ns + ":test"}
		}
		if phase != "" {
			app.Status.OperationState = &argocdv1.OperationState{Phase: phase}
		}
		return app
	}
}

func withArgoCDUpdate(gs *gitserver.Server) objects.Option[kargoapi.Stage] {
	return objects.ArgoCDUpdates(kargoapi.ArgoCDAppUpdate{AppName: "app-test", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: gs.RepoURL("gitops"), UpdateTargetRevision: true}}})
}

func (h *harness) app(t *testing.T) *argocdv1.Application {
	t.Helper()
	app := &argocdv1.Application{}
	require.NoError(t, h.c.Get(context.Background(), client.ObjectKey{Namespace: argocd.DefaultNamespace, Name: "app-test"}, app))
	return app
}

// Argo CD updates are checked before anything is committed: an Application
// that does not let the Stage change it fails the Promotion with nothing
// written, to Git or to Argo CD.
func TestAnApplicationThatRefusesStopsThePromotionBeforeAnyCommit(t *testing.T) {
	h := setup(t, func(gs *gitserver.Server) client.Object { return testStage(gs, withArgoCDUpdate(gs)) }, argoApp(false, ""), f1(),
		obj(objects.Promotion(ns, "p", "test", "f1", objects.PromotionCreated(t0))))
	before := h.app(t)
	h.reconcile(t, "p")
	p := h.promotion(t, "p")
	require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase)
	require.Contains(t, p.Status.Message, "Promotion failed: argoCDAppUpdates: ")
	require.Contains(t, p.Status.Message, kargoapi.AuthorizedStageAnnotationKey)
	require.True(t, strings.HasSuffix(p.Status.Message, "; the repositories and the Stage are unchanged"), p.Status.Message)
	require.Equal(t, "check", p.Status.Steps[0].Alias)
	require.Equal(t, []kargoapi.StepStatus{kargoapi.StepStatusFailed, kargoapi.StepStatusSkipped, kargoapi.StepStatusSkipped},
		[]kargoapi.StepStatus{p.Status.Steps[0].Status, p.Status.Steps[1].Status, p.Status.Steps[2].Status}, "no later step ran")
	require.Empty(t, h.committed(t))
	require.Equal(t, before.ResourceVersion, h.app(t).ResourceVersion)
}

// While Argo CD runs a sync of an Application the Stage updates, the
// Promotion waits, with nothing written, and says so; it goes on once the
// sync ends, and errs when the sync outlasts promote.MaxSyncWait.
func TestARunningSyncIsWaitedFor(t *testing.T) {
	objs := []func(*gitserver.Server) client.Object{
		func(gs *gitserver.Server) client.Object { return testStage(gs, withArgoCDUpdate(gs)) }, argoApp(true, argocdv1.OperationRunning), f1(),
		obj(objects.Promotion(ns, "p", "test", "f1", objects.PromotionCreated(t0))),
	}
	waiting := func(t *testing.T, h *harness) {
		t.Helper()
		res, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "p"}})
		require.NoError(t, err)
		require.Positive(t, res.RequeueAfter)
		p := h.promotion(t, "p")
		require.Equal(t, kargoapi.PromotionPhaseRunning, p.Status.Phase)
		require.True(t, strings.HasPrefix(p.Status.Message, "Waiting: argoCDAppUpdates: Application argocd/app-test: a sync is running (phase Running)"), p.Status.Message)
		require.Equal(t, kargoapi.StepStatusRunning, p.Status.Steps[0].Status)
		require.Empty(t, h.committed(t), "nothing is committed while a sync runs")
	}

	t.Run("the sync ends", func(t *testing.T) {
		h := setup(t, objs...)
		waiting(t, h)
		app := h.app(t)
		base := app.DeepCopy()
		app.Status.OperationState.Phase = argocdv1.OperationSucceeded
		require.NoError(t, h.c.Patch(context.Background(), app, client.MergeFrom(base)))
		h.reconcile(t, "p")
		p := h.promotion(t, "p")
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
		head := h.gs.BranchHead(t, "gitops", "stages/test")
		require.Equal(t, head, h.app(t).Spec.Source.TargetRevision, "the Application follows the commit the Git update made")
		require.Equal(t, []string{"check", "git-update-0", "argocd-update"}, []string{p.Status.Steps[0].Alias, p.Status.Steps[1].Alias, p.Status.Steps[2].Alias})
		require.Contains(t, p.Status.Message, "committed "+head[:7])
		require.Contains(t, p.Status.Message, "argocd/app-test")
	})

	t.Run("the sync outlasts the wait", func(t *testing.T) {
		h := setup(t, objs...)
		waiting(t, h)
		h.now = h.now.Add(promote.MaxSyncWait)
		h.reconcile(t, "p")
		p := h.promotion(t, "p")
		require.Equal(t, kargoapi.PromotionPhaseErrored, p.Status.Phase)
		require.Contains(t, p.Status.Message, "Promotion errored: argoCDAppUpdates: Application argocd/app-test: a sync is running")
		require.True(t, strings.HasSuffix(p.Status.Message, "; the repositories and the Stage are unchanged"), p.Status.Message)
		require.Empty(t, h.committed(t))
	})
}

// stepFunc is a step made of a function.
type stepFunc func(ctx context.Context) (engine.Result, error)

func (f stepFunc) Run(ctx context.Context, _ *engine.StepContext, _ engine.Config) (engine.Result, error) {
	return f(ctx)
}

// A Promotion's Running phase rides on its first durable write, but one
// that runs longer than RunningAfter without such a write (a clone from a
// Git host that does not answer) shows Running while it runs, not Pending;
// one that ends sooner is written once, at its end.
func TestSlowPromotionShowsRunning(t *testing.T) {
	for _, slow := range []bool{true, false} {
		t.Run(fmt.Sprintf("slow=%v", slow), func(t *testing.T) {
			p := objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0))
			p.Spec.Steps = []kargoapi.PromotionStep{{Uses: "slow", As: "slow"}}
			h := setup(t, obj(objects.Stage(ns, "test", objects.SubscribesTo("w"))), f1(), obj(p))
			h.r.RunningAfter = 50 * time.Millisecond
			seen := make(chan kargoapi.PromotionPhase, 1)
			h.r.Steps.Steps["slow"] = stepFunc(func(ctx context.Context) (engine.Result, error) {
				if slow {
					// What a watcher reads while the step still runs.
					require.Eventually(t, func() bool {
						return h.promotion(t, "p1").Status.Phase == kargoapi.PromotionPhaseRunning
					}, 10*time.Second, 10*time.Millisecond, "a Promotion that runs longer than RunningAfter says Running")
				}
				seen <- h.promotion(t, "p1").Status.Phase
				return engine.Result{Message: "done"}, nil
			})
			h.reconcile(t, "p1")
			got := h.promotion(t, "p1")
			require.Equal(t, kargoapi.PromotionPhaseSucceeded, got.Status.Phase, got.Status.Message)
			require.NotNil(t, got.Status.StartTime)
			if slow {
				require.Equal(t, kargoapi.PromotionPhaseRunning, <-seen)
			} else {
				require.Equal(t, p.Status.Phase, <-seen, "a quick Promotion writes nothing before its end")
			}
			// The note never lands after the end.
			time.Sleep(2 * h.r.RunningAfter)
			require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "p1").Status.Phase)
		})
	}
}
