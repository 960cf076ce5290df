package promotion

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

func TestDecideWaitsForApprovals(t *testing.T) {
	f := func(opts ...objects.Option[kargoapi.Freight]) *kargoapi.Freight {
		return objects.Freight(ns, append([]objects.Option[kargoapi.Freight]{objects.FreightName("f1"), objects.Image("nginx", "1.0"), objects.FreightCreated(t0)}, opts...)...)
	}
	mine := objects.Promotion(ns, "p1", "prod", "f1", objects.PromotionCreated(t0), objects.CreatedBy("alice"))
	prod := objects.Stage(ns, "prod", objects.SubscribesTo("w"), objects.Requires(1, "release"))
	runningMine := mine.DeepCopy()
	runningMine.Status.Phase = kargoapi.PromotionPhaseRunning
	claimed := prod.DeepCopy()
	claimed.Status.CurrentPromotion = &kargoapi.PromotionReference{Name: "p1"}
	for _, tc := range []struct {
		name     string
		in       inputs
		next     step
		message  string
		approval bool
	}{{
		name: "no approval yet",
		in:   inputs{promo: mine, stage: prod, freight: f(), queue: []kargoapi.Promotion{*mine}},
		next: stepWait, message: "Waiting for approval: 1 more approval from group release (Stage prod asks for 1); alice's own approval does not count", approval: true,
	}, {
		name: "the promoter approved their own promotion",
		in:   inputs{promo: mine, stage: prod, freight: f(objects.ApprovedBy("prod", "alice", t0, "release")), queue: []kargoapi.Promotion{*mine}},
		next: stepWait, message: "1 more approval from group release", approval: true,
	}, {
		name: "an approver of another Stage",
		in:   inputs{promo: mine, stage: prod, freight: f(objects.ApprovedBy("uat", "ava", t0, "release")), queue: []kargoapi.Promotion{*mine}},
		next: stepWait, message: "1 more approval", approval: true,
	}, {
		name: "an approver of the group",
		in:   inputs{promo: mine, stage: prod, freight: f(objects.ApprovedBy("prod", "ava", t0, "release")), queue: []kargoapi.Promotion{*mine}},
		next: stepRun,
	}, {
		name: "a project policy selecting the Stage by glob asks for more",
		in: inputs{promo: mine, stage: prod, freight: f(objects.ApprovedBy("prod", "ava", t0, "release")), queue: []kargoapi.Promotion{*mine},
			approvalPolicies: []kargoapi.ApprovalPolicy{*objects.ApprovalPolicy(ns, "cab", []string{"pro*"}, 2)}},
		next: stepWait, message: "1 more approval from anyone with the approve verb on the Stage (ApprovalPolicy cab asks for 2)", approval: true,
	}, {
		name: "a running Promotion is not stopped by an approval that expired meanwhile",
		in:   inputs{promo: runningMine, stage: claimed, freight: f(), queue: []kargoapi.Promotion{*runningMine}},
		next: stepRun,
	}, {
		name: "a Promotion behind another waits its turn first",
		in:   inputs{promo: mine, stage: prod, freight: f(), queue: []kargoapi.Promotion{*objects.Promotion(ns, "p0", "prod", "f1", objects.PromotionCreated(t0.Add(-time.Minute))), *mine}},
		next: stepWait, message: "Waiting for Promotion p0 to finish",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(tc.in, t0)
			require.Equal(t, tc.next, d.next, d.message)
			require.Contains(t, d.message, tc.message)
			require.Equal(t, tc.approval, d.awaitingApproval)
		})
	}
}

// A Promotion waiting for approval records since when and what it lacks,
// and runs once an approver approves.
func TestPromotionWaitsForApprovalThenRuns(t *testing.T) {
	h := setup(t, obj(objects.Stage(ns, "prod", objects.SubscribesTo("w"), objects.Requires(1, "release"))),
		obj(objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.FreightCreated(t0))),
		obj(objects.Promotion(ns, "p1", "prod", "f1", objects.PromotionCreated(t0), objects.CreatedBy("alice"))))
	h.reconcile(t, "p1")
	p := h.promotion(t, "p1")
	require.Equal(t, kargoapi.PromotionPhasePending, p.Status.Phase)
	require.NotNil(t, p.Status.Approval)
	require.Equal(t, t0.Add(time.Minute), p.Status.Approval.WaitingSince.Time.UTC())
	require.Contains(t, p.Status.Approval.Missing, "1 more approval from group release")
	h.noneRan(t, "p1")

	f := &kargoapi.Freight{}
	require.NoError(t, h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "f1"}, f))
	objects.ApprovedBy("prod", "ava", t0, "release")(f)
	require.NoError(t, h.c.Status().Update(context.Background(), f))
	h.reconcile(t, "p1")
	p = h.promotion(t, "p1")
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	require.Nil(t, p.Status.Approval)
}

// An abort asked of a Pending Promotion ends it before it starts.
func TestAbortPendingPromotion(t *testing.T) {
	p := objects.Promotion(ns, "p1", "prod", "f1", objects.PromotionCreated(t0), objects.CreatedBy("alice"))
	p.Annotations[kargoapi.AbortAnnotationKey] = "bob"
	h := setup(t, obj(objects.Stage(ns, "prod", objects.SubscribesTo("w"), objects.Requires(1))),
		obj(objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.FreightCreated(t0))), obj(p))
	h.reconcile(t, "p1")
	got := h.promotion(t, "p1")
	require.Equal(t, kargoapi.PromotionPhaseAborted, got.Status.Phase)
	require.Equal(t, "bob", got.Status.AbortedBy)
	require.Equal(t, "Aborted by bob before it started", got.Status.Message)
	require.NotNil(t, got.Status.CompletionTime)
	require.Empty(t, got.Status.Steps)
}

// userAborts is a step during which a user aborts its Promotion: it sets
// the abort annotation through the API, as kargo's API server does.
type userAborts struct{ c client.Client }

func (s userAborts) Run(ctx context.Context, sc *engine.StepContext, _ engine.Config) (engine.Result, error) {
	live := &kargoapi.Promotion{}
	if err := s.c.Get(ctx, client.ObjectKeyFromObject(sc.Promotion), live); err != nil {
		return engine.Result{}, err
	}
	live.Annotations = map[string]string{kargoapi.AbortAnnotationKey: "alice"}
	return engine.Result{Message: "aborted meanwhile"}, s.c.Update(ctx, live)
}

// userAbortsInWorkDir is userAborts as a step that changes only the work
// directory, whose record is not written before the next step starts.
type userAbortsInWorkDir struct{ userAborts }

func (userAbortsInWorkDir) Replayable() {}

// An abort asked while a step runs stops the Promotion once that step has
// ended, before the next one starts, whether the step's record was written
// then (it acted outside the work directory: the write's answer tells of
// the abort) or not (it changed only the work directory: the Promotion is
// read again); the Stage is released with its Freight unchanged.
func TestAbortBetweenSteps(t *testing.T) {
	cfg := func(s string) *kargoapi.StepConfig { return &kargoapi.StepConfig{Raw: []byte(s)} }
	for name, replayable := range map[string]bool{"after a step that acts outside": false, "after a step in the work directory": true} {
		t.Run(name, func(t *testing.T) {
			p := objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0))
			p.UID = "uid-p1"
			p.Spec.Steps = []kargoapi.PromotionStep{
				{Uses: "user-aborts", As: "first"},
				{Uses: "compose-output", As: "second", Config: cfg(`{"b": "2"}`)},
				{Uses: "compose-output", As: "third", Config: cfg(`{"c": "3"}`)},
			}
			s, err := scheme.New()
			require.NoError(t, err)
			c := fake.NewClientBuilder().WithScheme(s).
				WithObjects(objects.Stage(ns, "test", objects.SubscribesTo("w")), objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.FreightCreated(t0)), p).
				WithStatusSubresource(&kargoapi.Stage{}, &kargoapi.Freight{}, &kargoapi.Promotion{}).
				WithIndex(&kargoapi.Promotion{}, index.PromotionsByStage, index.PromotionStage).Build()
			reg := steps.New(steps.Deps{})
			reg["user-aborts"] = userAborts{c: c}
			if replayable {
				reg["user-aborts"] = userAbortsInWorkDir{userAborts{c: c}}
			}
			h := &harness{c: c, r: &Reconciler{
				Client: c, Recorder: events.NewFakeRecorder(50), HistoryLimit: 2,
				Now:   func() time.Time { return t0.Add(time.Minute) },
				Steps: &engine.Engine{Steps: reg}, WorkDir: t.TempDir(),
			}}
			h.reconcile(t, "p1")
			got := h.promotion(t, "p1")
			require.Equal(t, kargoapi.PromotionPhaseAborted, got.Status.Phase, got.Status.Message)
			require.Equal(t, "alice", got.Status.AbortedBy)
			require.Contains(t, got.Status.Message, "Aborted by alice after 1 of 3 steps")
			require.EqualValues(t, 1, got.Status.CurrentStep)
			require.Len(t, got.Status.Steps, 1, "the second step never started")
			require.Equal(t, kargoapi.StepStatusSucceeded, got.Status.Steps[0].Status)
			st := h.stage(t, "test")
			require.Nil(t, st.Status.CurrentPromotion, "the Stage is released")
			require.Nil(t, st.Status.CurrentFreight, "its Freight is unchanged")
			require.Equal(t, kargoapi.PromotionPhaseAborted, st.Status.LastPromotion.Phase)
			require.Equal(t, kargoapi.StagePhaseSteady, st.Status.Phase)
		})
	}
}

// A Stage set to ReplaceWithNewest aborts a queued auto-promotion when a
// newer one of the same origin is queued behind it; a Stage left at RunAll
// runs them in order, and promotions by hand are never replaced.
func TestQueuedAutoPromotionsReplacedByNewest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   kargoapi.QueuedAutoPromotions
		byHand   bool
		replaced bool
	}{
		{"replace with newest", kargoapi.QueuedAutoPromotionsReplaceWithNewest, false, true},
		{"run all, the default", "", false, false},
		{"a promotion by hand is never replaced", kargoapi.QueuedAutoPromotionsReplaceWithNewest, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := objects.Stage(ns, "test", objects.SubscribesTo("w"))
			st.Spec.QueuedAutoPromotions = tc.policy
			running := objects.Promotion(ns, "p0", "test", "f0", objects.PromotionCreated(t0.Add(-3*time.Minute)), objects.AutoPromoted("auto"))
			running.Status.Phase = kargoapi.PromotionPhaseRunning
			older := objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0.Add(-2*time.Minute)), objects.AutoPromoted("auto"))
			if tc.byHand {
				older.Labels = nil
			}
			newer := objects.Promotion(ns, "p2", "test", "f2", objects.PromotionCreated(t0.Add(-time.Minute)), objects.AutoPromoted("auto"))
			fr := func(name, tag string) *kargoapi.Freight {
				return objects.Freight(ns, objects.FreightName(name), objects.Image("nginx", tag), objects.FromWarehouse("w"), objects.FreightCreated(t0))
			}
			h := setup(t, obj(st), obj(fr("f0", "1.0")), obj(fr("f1", "1.1")), obj(fr("f2", "1.2")), obj(running), obj(older), obj(newer))
			h.reconcile(t, "p1")
			got := h.promotion(t, "p1")
			if tc.replaced {
				require.Equal(t, kargoapi.PromotionPhaseAborted, got.Status.Phase)
				require.Equal(t, "kargo", got.Status.AbortedBy)
				require.Contains(t, got.Status.Message, "Replaced by Promotion p2 of newer Freight f2")
			} else {
				require.Equal(t, kargoapi.PromotionPhasePending, got.Status.Phase)
				require.Equal(t, "Waiting for Promotion p0 to finish", got.Status.Message)
			}
			h.reconcile(t, "p2")
			require.Equal(t, kargoapi.PromotionPhasePending, h.promotion(t, "p2").Status.Phase, "the newest waits its turn")
		})
	}
}
