package promotion

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

func (h *harness) reconcileAfter(t *testing.T, name string) time.Duration {
	t.Helper()
	res, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}})
	require.NoError(t, err)
	return res.RequeueAfter
}

// noneRan asserts that the Promotions named have not started.
func (h *harness) noneRan(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		p := h.promotion(t, name)
		require.Nil(t, p.Status.StartTime, "Promotion %s started", name)
		require.Empty(t, p.Status.Steps, "Promotion %s ran steps", name)
		require.NotEqual(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, name)
	}
}

func holdsFreight(name, tag string) *kargoapi.Freight {
	return objects.Freight(ns, objects.FreightName(name), objects.Image("nginx", tag), objects.FreightCreated(t0))
}

// TestHeldStageQueuesPromotionsAndRunsThemInOrderOnRelease: while a Stage is
// held nothing starts, auto or manual; released, the queue runs in order
// and nothing is lost.
func TestHeldStageQueuesPromotionsAndRunsThemInOrderOnRelease(t *testing.T) {
	auto := objects.Promotion(ns, "a-auto", "prod", "f1", objects.PromotionCreated(t0.Add(-2*time.Minute)))
	auto.Labels = map[string]string{kargoapi.AutoPromotedByLabelKey: "policy"}
	h := setup(t, obj(objects.Stage(ns, "prod", objects.SubscribesTo("w"), objects.HeldBy("alice", "bad release", t0))), obj(holdsFreight("f1", "1.24.0")), obj(holdsFreight("f2", "1.25.0")), obj(auto), obj(objects.Promotion(ns, "b-manual", "prod", "f2", objects.PromotionCreated(t0.Add(-time.Minute)))))

	for _, name := range []string{"b-manual", "a-auto", "b-manual"} {
		require.Zero(t, h.reconcileAfter(t, name), "a hold has no end to look again at: the Stage's change enqueues")
		p := h.promotion(t, name)
		require.Equal(t, kargoapi.PromotionPhasePending, p.Status.Phase)
		require.Contains(t, p.Status.Message, "Stage prod is held by alice")
		require.Contains(t, p.Status.Message, "bad release")
	}
	h.noneRan(t, "a-auto", "b-manual")
	require.Nil(t, h.stage(t, "prod").Status.CurrentPromotion, "nothing claimed the Stage")

	st := h.stage(t, "prod")
	st.Status.Hold = nil
	require.NoError(t, h.c.Status().Update(context.Background(), st))
	require.Len(t, h.r.waiting(context.Background(), ns, "prod"), 2, "both waiting Promotions are enqueued on release")

	h.reconcile(t, "b-manual")
	require.Contains(t, h.promotion(t, "b-manual").Status.Message, "Waiting for Promotion a-auto", "the queue keeps its order")
	h.reconcile(t, "a-auto")
	h.reconcile(t, "b-manual")
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "a-auto").Status.Phase)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "b-manual").Status.Phase)
	require.Equal(t, "f2", h.stage(t, "prod").Status.CurrentFreight.ID)
}

// TestHoldDoesNotStopARunningPromotion: a hold stops what has not begun,
// never half a promotion (a restarted controller resumes a Running one).
func TestHoldDoesNotStopARunningPromotion(t *testing.T) {
	p := objects.Promotion(ns, "p1", "prod", "f1", objects.PromotionCreated(t0))
	p.Status.Phase = kargoapi.PromotionPhaseRunning
	p.Status.StartTime = &metav1.Time{Time: t0}
	st := objects.Stage(ns, "prod", objects.SubscribesTo("w"), objects.HeldBy("alice", "stop", t0))
	st.Status.CurrentPromotion = &kargoapi.PromotionReference{Name: "p1", Phase: kargoapi.PromotionPhaseRunning}
	h := setup(t, obj(st), obj(holdsFreight("f1", "1.24.0")), obj(p))
	h.reconcile(t, "p1")
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "p1").Status.Phase)
}

func TestFrozenProjectStopsEveryStage(t *testing.T) {
	proj := &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	proj.Status.Freeze = &kargoapi.Hold{By: "bob", Reason: "incident 42", At: metav1.NewTime(t0)}
	h := setup(t, obj(proj), obj(objects.Stage(ns, "test", objects.SubscribesTo("w"))), obj(holdsFreight("f1", "1.24.0")), obj(objects.Promotion(ns, "p1", "test", "f1", objects.PromotionCreated(t0))))
	h.reconcile(t, "p1")
	require.Equal(t, kargoapi.PromotionPhasePending, h.promotion(t, "p1").Status.Phase)
	require.Contains(t, h.promotion(t, "p1").Status.Message, "project kargo-demo is frozen by bob")
	h.noneRan(t, "p1")
	require.Len(t, h.r.waiting(context.Background(), ns, ""), 1)
}

// TestWindowKeepsPromotionsOutUntilItEnds runs the clock through a weekend
// deny window: the Promotion waits, asks to be looked at again when the
// window ends, and runs then; a Promotion that overrides the window runs at
// once.
func TestWindowKeepsPromotionsOutUntilItEnds(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	now := time.Date(2026, 10, 24, 12, 0, 0, 0, berlin) // Saturday
	w := objects.PromotionWindow(ns, "no-weekend-prod", kargoapi.PromotionWindowDeny, "Europe/Berlin", "Fri 16:00", "Mon 08:00")
	w.Spec.Stages.Names = []string{"prod*"}
	override := objects.Promotion(ns, "hotfix", "prod-eu", "f1", objects.PromotionCreated(t0))
	override.Annotations = map[string]string{kargoapi.OverrideWindowAnnotationKey: kargoapi.LabelTrueValue}
	h := setup(t, obj(w), obj(objects.Stage(ns, "prod", objects.SubscribesTo("w"))), obj(objects.Stage(ns, "prod-eu", objects.SubscribesTo("w"))), obj(objects.Stage(ns, "test", objects.SubscribesTo("w"))), obj(holdsFreight("f1", "1.24.0")), obj(objects.Promotion(ns, "p1", "prod", "f1", objects.PromotionCreated(t0))), obj(objects.Promotion(ns, "t1", "test", "f1", objects.PromotionCreated(t0))), obj(override))
	h.now = now

	after := h.reconcileAfter(t, "p1")
	ends := time.Date(2026, 10, 26, 8, 0, 0, 0, berlin)
	require.Equal(t, ends.Sub(now)+time.Second, after, "look again when the window ends (Monday 08:00 CET, after the DST change)")
	require.Contains(t, h.promotion(t, "p1").Status.Message, "until Mon 2026-10-26 08:00 CET")
	h.noneRan(t, "p1")

	h.reconcile(t, "t1")
	h.reconcile(t, "hotfix")
	for _, name := range []string{"t1", "hotfix"} {
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, name).Status.Phase, "a Stage the window does not select, and an override, run")
	}

	h.now = ends
	h.reconcile(t, "p1")
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, h.promotion(t, "p1").Status.Phase)
}
