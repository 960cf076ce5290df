package promotion

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

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

// An abort asked while a step runs stops the Promotion once that step has
// ended and been saved, before the next one starts; the Stage is released
// with its Freight unchanged.
func TestAbortBetweenSteps(t *testing.T) {
	cfg := func(s string) *kargoapi.StepConfig { return &kargoapi.StepConfig{Raw: []byte(s)} }
	p := objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0))
	p.UID = "uid-p1"
	p.Spec.Steps = []kargoapi.PromotionStep{
		{Uses: "compose-output", As: "first", Config: cfg(`{"a": "1"}`)},
		{Uses: "compose-output", As: "second", Config: cfg(`{"b": "2"}`)},
		{Uses: "compose-output", As: "third", Config: cfg(`{"c": "3"}`)},
	}
	s, err := scheme.New()
	require.NoError(t, err)
	var c client.Client
	// Someone aborts while the first step runs: the annotation lands just
	// before the engine saves the first step's record, whose answer
	// carries it.
	c = fake.NewClientBuilder().WithScheme(s).
		WithObjects(objects.Stage(ns, "test", objects.SubscribesTo("w")), objects.Freight(ns, objects.FreightName("f1"), objects.Image("nginx", "1.24.0"), objects.FreightCreated(t0)), p).
		WithStatusSubresource(&kargoapi.Stage{}, &kargoapi.Freight{}, &kargoapi.Promotion{}).
		WithIndex(&kargoapi.Promotion{}, index.PromotionsByStage, index.PromotionStage).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			if pr, ok := obj.(*kargoapi.Promotion); ok && pr.Status.CurrentStep == 1 {
				live := &kargoapi.Promotion{}
				if err := cl.Get(ctx, client.ObjectKeyFromObject(pr), live); err != nil {
					return err
				}
				if _, asked := live.Annotations[kargoapi.AbortAnnotationKey]; !asked {
					live.Annotations = map[string]string{kargoapi.AbortAnnotationKey: "alice"}
					if err := cl.Update(ctx, live); err != nil {
						return err
					}
				}
			}
			return cl.SubResource(sub).Patch(ctx, obj, patch, opts...)
		}}).Build()
	h := &harness{c: c, r: &Reconciler{
		Client: c, Recorder: events.NewFakeRecorder(50), HistoryLimit: 2,
		Now:   func() time.Time { return t0.Add(time.Minute) },
		Steps: &engine.Engine{Steps: steps.New(steps.Deps{})}, WorkDir: t.TempDir(),
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
