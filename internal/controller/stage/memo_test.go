package stage

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// A pass that nothing has moved since the last one (the health pass every
// Stage makes every 30 seconds) does not list the project's Freight; a
// Freight change, a change to the Stage and the end of a soak time each
// make the next pass list them again, and the pass's result is the one a
// full pass would give.
func TestIdlePassListsNoFreight(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	now := t0
	st := objects.Stage("p", "uat", objects.Subscriptions(kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{
		{Name: "test", RequiredSoakTime: &metav1.Duration{Duration: time.Hour}},
	}}))
	s, err := scheme.New()
	require.NoError(t, err)
	lists := 0
	r := &Reconciler{Now: func() time.Time { return now }}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(st).WithStatusSubresource(st, &kargoapi.Freight{}, &kargoapi.Promotion{}).
		WithIndex(&kargoapi.Promotion{}, index.PromotionsByStage, index.PromotionStage).
		WithIndex(&kargoapi.PromotionPolicy{}, index.PoliciesByStage, index.PolicyStage).
		WithInterceptorFuncs(freightEvents(r, interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*kargoapi.FreightList); ok {
				lists++
			}
			return c.List(ctx, list, opts...)
		}})).Build()
	r.Client = c
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(st)}
	pass := func() (listed bool, available []string, requeue time.Duration) {
		t.Helper()
		before := lists
		res, err := r.Reconcile(ctx, req)
		require.NoError(t, err)
		got := &kargoapi.Stage{}
		require.NoError(t, c.Get(ctx, req.NamespacedName, got))
		for _, f := range got.Status.AvailableFreight {
			available = append(available, f.ID)
		}
		return lists > before, available, res.RequeueAfter
	}
	verified := func(name string, at time.Time) *kargoapi.Freight {
		f := objects.Freight("p", objects.FromWarehouse("w"), objects.Image("nginx", name), objects.FreightCreated(at))
		f.Status.VerifiedIn = map[string]kargoapi.VerifiedStage{"test": {VerifiedAt: &metav1.Time{Time: at}}}
		return f
	}

	// Soaked two hours ago: available. Verified now: soaking for an hour.
	old, fresh := verified("1.0.0", t0.Add(-2*time.Hour)), verified("1.0.1", t0)
	require.NoError(t, c.Create(ctx, old))
	require.NoError(t, c.Create(ctx, fresh))
	listed, available, requeue := pass()
	require.True(t, listed)
	require.Equal(t, []string{old.Name}, available)
	require.Equal(t, time.Hour+time.Second, requeue, "the pass comes back when the soak ends")

	// Passes with nothing moved: no list, same result, same requeue.
	for i := 0; i < 3; i++ {
		now = now.Add(30 * time.Second)
		listed, available, requeue = pass()
		require.False(t, listed, "pass %d listed the project's Freight with nothing moved", i)
		require.Equal(t, []string{old.Name}, available)
		require.Equal(t, time.Hour-time.Duration(i+1)*30*time.Second+time.Second, requeue)
	}

	// The soak ends: worked out again, and the soaked Freight is available.
	now = t0.Add(time.Hour)
	listed, available, _ = pass()
	require.True(t, listed, "the end of a soak time brings the list back")
	require.ElementsMatch(t, []string{old.Name, fresh.Name}, available)
	listed, _, _ = pass()
	require.False(t, listed)

	// A Freight changes (verified elsewhere, its alias renamed): again.
	f := &kargoapi.Freight{}
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(old), f))
	f.Alias = "renamed"
	require.NoError(t, c.Update(ctx, f))
	listed, _, _ = pass()
	require.True(t, listed, "a Freight change brings the list back")
	listed, _, _ = pass()
	require.False(t, listed)

	// A new Freight, soaked already.
	newer := verified("1.0.2", t0.Add(-3*time.Hour))
	require.NoError(t, c.Create(ctx, newer))
	now = now.Add(2 * AvailableFreightWindow)
	listed, available, _ = pass()
	require.True(t, listed)
	require.ElementsMatch(t, []string{old.Name, fresh.Name, newer.Name}, available)

	// The Stage changes (its upstream no longer requires a soak): again.
	got := &kargoapi.Stage{}
	require.NoError(t, c.Get(ctx, req.NamespacedName, got))
	got.Spec.Subscriptions.UpstreamStages[0].RequiredSoakTime = nil
	require.NoError(t, c.Update(ctx, got))
	listed, _, _ = pass()
	require.True(t, listed, "a Stage change brings the list back")
}
