package promotion

import (
	"context"
	"fmt"
	"os"
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
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/promote"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

type fakePromoter struct {
	calls []string
	err   error
	// landing is what Landing answers.
	landing promote.Landing
}

func (p *fakePromoter) Landing(context.Context, *kargoapi.Stage, types.UID) (promote.Landing, error) {
	return p.landing, nil
}

func (p *fakePromoter) Promote(_ context.Context, st *kargoapi.Stage, f *kargoapi.Freight, promo *kargoapi.Promotion) (promote.Outcome, error) {
	p.calls = append(p.calls, promo.Name)
	if p.err != nil {
		return promote.Outcome{}, p.err
	}
	return promote.Outcome{Summary: []string{"set image nginx to " + f.Images[0].Tag}}, nil
}

const ns = "kargo-demo"

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

type harness struct {
	r *Reconciler
	c client.Client
	p *fakePromoter
}

func setup(t *testing.T, objs ...client.Object) *harness {
	t.Helper()
	s, err := scheme.New()
	require.NoError(t, err)
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&kargoapi.Stage{}, &kargoapi.Freight{}, &kargoapi.Promotion{}).
		WithIndex(&kargoapi.Promotion{}, index.PromotionsByStage, index.PromotionStage).Build()
	p := &fakePromoter{}
	return &harness{c: c, p: p, r: &Reconciler{
		Client: c, Promoter: p, Recorder: events.NewFakeRecorder(50), HistoryLimit: 2,
		Now: func() time.Time { return t0.Add(time.Minute) },
	}}
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

func TestSuccessfulPromotionUpdatesStageAndFreight(t *testing.T) {
	h := setup(t, objects.Stage(ns, "test", objects.SubscribesTo("w")), objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0)))
	h.reconcile(t, "p1")

	p := h.promotion(t, "p1")
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase)
	require.Equal(t, "Promoted Freight f1-alias (f1) into test: set image nginx to 1.24.0", p.Status.Message)
	require.NotNil(t, p.Status.StartTime)
	require.NotNil(t, p.Status.CompletionTime)

	st := h.stage(t, "test")
	require.Equal(t, "f1", st.Status.CurrentFreight.ID)
	require.Equal(t, "f1", st.Status.History[0].ID)
	require.Nil(t, st.Status.CurrentPromotion)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, st.Status.LastPromotion.Phase)
	require.Equal(t, kargoapi.StagePhaseSteady, st.Status.Phase)
	require.Contains(t, h.freight(t, "f1").Status.VerifiedIn, "test", "no health source: promotion verifies")
}

func TestPromotionsRunOneAtATimeInCreationOrder(t *testing.T) {
	h := setup(t, objects.Stage(ns, "test", objects.SubscribesTo("w")),
		objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), objects.Freight(ns, objects.FreightName("f2"), objects.Image("nginx", "1.25.0"), objects.Alias("f2-alias"), objects.FreightCreated(t0)), objects.Freight(ns, objects.FreightName("f3"), objects.Image("nginx", "1.26.0"), objects.Alias("f3-alias"), objects.FreightCreated(t0)),
		objects.Promotion(ns, "b-newer", "test", "f2", objects.PromotionCreated(t0.Add(-time.Minute))), objects.Promotion(ns, "a-older", "test", "f1", objects.PromotionCreated(t0.Add(-2*time.Minute))), objects.Promotion(ns, "c-newest", "test", "f3", objects.PromotionCreated(t0)))

	h.reconcile(t, "b-newer")
	h.reconcile(t, "c-newest")
	require.Empty(t, h.p.calls, "only the oldest may run")
	require.Equal(t, kargoapi.PromotionPhasePending, h.promotion(t, "b-newer").Status.Phase)
	require.Equal(t, "Waiting for Promotion a-older to finish", h.promotion(t, "b-newer").Status.Message)

	h.reconcile(t, "a-older")
	h.reconcile(t, "c-newest")
	h.reconcile(t, "b-newer")
	h.reconcile(t, "c-newest")
	require.Equal(t, []string{"a-older", "b-newer", "c-newest"}, h.p.calls)
	st := h.stage(t, "test")
	require.Equal(t, "f3", st.Status.CurrentFreight.ID)
	require.Len(t, st.Status.History, 2, "history is bounded")
	require.Equal(t, []string{"f3", "f2"}, []string{st.Status.History[0].ID, st.Status.History[1].ID})
}

func TestPromotionFailures(t *testing.T) {
	cases := []struct {
		name      string
		promo     *kargoapi.Promotion
		promoter  error
		wantPhase kargoapi.PromotionPhase
		wantMsg   string
	}{
		{"missing stage", objects.Promotion(ns, "p", "nope", "f1", objects.PromotionCreated(t0)), nil, kargoapi.PromotionPhaseFailed, "Stage nope does not exist in project kargo-demo"},
		{"missing freight", objects.Promotion(ns, "p", "uat", "f9", objects.PromotionCreated(t0)), nil, kargoapi.PromotionPhaseFailed, "Freight f9 does not exist"},
		{"not verified upstream", objects.Promotion(ns, "p", "uat", "f1", objects.PromotionCreated(t0)), nil, kargoapi.PromotionPhaseFailed, "Freight is not available to Stage uat: Freight f1-alias (f1) is not verified in upstream Stage test"},
		{"bad mechanism", objects.Promotion(ns, "p", "test", "f1", objects.PromotionCreated(t0)), fmt.Errorf("set image.tag in values.yaml: key not found: %w", sourceerr.ErrInvalid), kargoapi.PromotionPhaseFailed, "key not found"},
		{"git down", objects.Promotion(ns, "p", "test", "f1", objects.PromotionCreated(t0)), fmt.Errorf("push: %w", sourceerr.ErrUnreachable), kargoapi.PromotionPhaseErrored, "the repositories and the Stage are unchanged"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := setup(t, objects.Stage(ns, "test", objects.SubscribesTo("w")),
				objects.Stage(ns, "uat", objects.UpstreamStages("test")),
				objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), tc.promo)
			h.p.err = tc.promoter
			h.reconcile(t, "p")
			p := h.promotion(t, "p")
			require.Equal(t, tc.wantPhase, p.Status.Phase)
			require.Contains(t, p.Status.Message, tc.wantMsg)
			if st := (&kargoapi.Stage{}); h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: tc.promo.Spec.Stage}, st) == nil {
				require.Nil(t, st.Status.CurrentFreight, "a failed promotion changes no current Freight")
				require.Nil(t, st.Status.CurrentPromotion)
			}
			require.NotContains(t, h.freight(t, "f1").Status.VerifiedIn, tc.promo.Spec.Stage)
		})
	}
}

func TestPromotingTheCurrentFreightTouchesNothing(t *testing.T) {
	st := objects.Stage(ns, "test", objects.SubscribesTo("w"))
	st.Status.CurrentFreight = &kargoapi.SimpleFreight{ID: "f1"}
	st.Status.History = []kargoapi.SimpleFreight{{ID: "f1"}}
	h := setup(t, st, objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), objects.Promotion(ns, "again", "test", "f1", objects.PromotionCreated(t0)))
	h.reconcile(t, "again")
	require.Empty(t, h.p.calls)
	p := h.promotion(t, "again")
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase)
	require.Contains(t, p.Status.Message, "already the current Freight of test; nothing changed")
	require.Len(t, h.stage(t, "test").Status.History, 1)
}

// A controller that died after claiming the Stage and starting the
// Promotion finishes it when it comes back: the Promoter is called again
// (it is idempotent per Promotion) and the Promotion ends once.
func TestRestartFinishesARunningPromotion(t *testing.T) {
	st := objects.Stage(ns, "test", objects.SubscribesTo("w"))
	st.Status.CurrentPromotion = &kargoapi.PromotionReference{Name: "p1", Phase: kargoapi.PromotionPhaseRunning}
	p := objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0))
	started := metav1.NewTime(t0)
	p.Status = kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseRunning, StartTime: &started}
	other := objects.Promotion(ns, "p0-other", "test", "f1", objects.PromotionCreated(t0.Add(-time.Hour))) // older but not running
	h := setup(t, st, objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), p, other)
	h.reconcile(t, "p0-other")
	require.Empty(t, h.p.calls, "the running Promotion keeps its turn")
	h.reconcile(t, "p1")
	require.Equal(t, []string{"p1"}, h.p.calls)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "p1").Status.Phase)
	require.Equal(t, "f1", h.stage(t, "test").Status.CurrentFreight.ID)
}

// A Promotion deleted while it ran (say, while the controller was down)
// leaves the Stage claimed; its claim is released, and what the Stage's
// branches hold of it decides the Stage's current Freight.
func TestDeletedRunningPromotionReleasesItsStage(t *testing.T) {
	claimed := func() *kargoapi.Stage {
		st := objects.Stage(ns, "test", objects.SubscribesTo("w"))
		st.Spec.PromotionMechanisms = &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{RepoURL: "https://git.example.com/gitops.git", WriteBranch: "stages/test"}}}
		st.Status.CurrentFreight = &kargoapi.SimpleFreight{ID: "f0"}
		st.Status.CurrentPromotion = &kargoapi.PromotionReference{Name: "gone", UID: "uid-gone", Freight: &kargoapi.SimpleFreight{ID: "f1"}, Phase: kargoapi.PromotionPhaseRunning}
		st.Status.Phase = kargoapi.StagePhasePromoting
		return st
	}

	t.Run("its commit is on the branch: the Stage holds its Freight", func(t *testing.T) {
		h := setup(t, claimed(), objects.Freight(ns, objects.FreightName("f0"), objects.Image("nginx", "1.23.0"), objects.Alias("f0-alias"), objects.FreightCreated(t0)), objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), objects.Promotion(ns, "next", "test", "f0", objects.PromotionCreated(t0)))
		h.p.landing = promote.Landing{Landed: []string{"https://git.example.com/gitops.git stages/test @ 3f2a1b0"}}
		h.reconcile(t, "next")
		require.Equal(t, kargoapi.PromotionPhasePending, h.promotion(t, "next").Status.Phase, "the claim is released first")
		h.reconcile(t, "gone")
		st := h.stage(t, "test")
		require.Nil(t, st.Status.CurrentPromotion)
		require.Equal(t, "f1", st.Status.CurrentFreight.ID)
		require.Equal(t, &kargoapi.PromotionReference{Name: "gone", UID: "uid-gone", Freight: st.Status.CurrentFreight, Phase: kargoapi.PromotionPhaseSucceeded}, st.Status.LastPromotion)
		require.Equal(t, []string{"gone"}, h.p.calls, "the rest of it (Argo CD updates) is finished, its commits not made again")
		h.reconcile(t, "next")
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "next").Status.Phase, "later Promotions run")
		require.Equal(t, "f0", h.stage(t, "test").Status.CurrentFreight.ID)
	})

	t.Run("its commit never reached the branch: the Stage keeps its Freight", func(t *testing.T) {
		h := setup(t, claimed(), objects.Freight(ns, objects.FreightName("f0"), objects.Image("nginx", "1.23.0"), objects.Alias("f0-alias"), objects.FreightCreated(t0)), objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)))
		h.p.landing = promote.Landing{Missing: []string{"https://git.example.com/gitops.git stages/test"}}
		h.reconcile(t, "gone")
		st := h.stage(t, "test")
		require.Nil(t, st.Status.CurrentPromotion)
		require.Equal(t, "f0", st.Status.CurrentFreight.ID)
		require.Equal(t, kargoapi.PromotionPhaseErrored, st.Status.LastPromotion.Phase)
		require.Equal(t, kargoapi.StagePhaseFailed, st.Status.Phase)
		require.Empty(t, h.p.calls, "nothing is promoted on the deleted Promotion's behalf")
	})

	t.Run("a Promotion of the same name created since does not inherit the claim", func(t *testing.T) {
		again := objects.Promotion(ns, "gone", "test", "f0", objects.PromotionCreated(t0))
		again.UID = "uid-new"
		h := setup(t, claimed(), objects.Freight(ns, objects.FreightName("f0"), objects.Image("nginx", "1.23.0"), objects.Alias("f0-alias"), objects.FreightCreated(t0)), objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), again)
		h.p.landing = promote.Landing{Missing: []string{"https://git.example.com/gitops.git stages/test"}}
		h.reconcile(t, "gone")
		require.Equal(t, kargoapi.PromotionPhaseErrored, h.stage(t, "test").Status.LastPromotion.Phase, "the old claim is released")
		h.reconcile(t, "gone")
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "gone").Status.Phase)
		require.Equal(t, types.UID("uid-new"), h.stage(t, "test").Status.LastPromotion.UID)
	})

	t.Run("a claim whose Promotion exists is left alone", func(t *testing.T) {
		st := claimed()
		running := objects.Promotion(ns, "gone", "test", "f1", objects.PromotionCreated(t0))
		running.UID = "uid-gone"
		h := setup(t, st, objects.Freight(ns, objects.FreightName("f0"), objects.Image("nginx", "1.23.0"), objects.Alias("f0-alias"), objects.FreightCreated(t0)), objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), running)
		require.NoError(t, h.r.releaseClaim(context.Background(), h.stage(t, "test")))
		require.Equal(t, "gone", h.stage(t, "test").Status.CurrentPromotion.Name)
		require.Empty(t, h.r.orphanedClaim(context.Background(), h.stage(t, "test")))
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
			p.UID = "uid-p1"
			p.Spec.Steps = tc.steps
			h := setup(t, objects.Stage(ns, "test", objects.SubscribesTo("w")),
				objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.Alias("f1-alias"), objects.FreightCreated(t0)), p)
			h.r.Steps = &engine.Engine{Steps: steps.New(steps.Deps{})}
			h.r.WorkDir = t.TempDir()
			h.reconcile(t, "p1")
			got := h.promotion(t, "p1")
			require.Equal(t, tc.phase, got.Status.Phase, got.Status.Message)
			require.Contains(t, got.Status.Message, tc.message)
			require.Len(t, got.Status.Steps, len(tc.steps))
			require.EqualValues(t, len(tc.steps), got.Status.CurrentStep)
			require.Empty(t, h.p.calls, "the promotion mechanisms did not run")
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
