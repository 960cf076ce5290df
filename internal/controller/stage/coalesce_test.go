package stage

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/collection"
	"github.com/kargohq/kargo/internal/controller/conditions"
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// coalesceSetup returns a Reconciler for st on a fake client that counts
// the Stage status writes, with a clock the test moves; listing
// PromotionPolicies (which auto-promotion does after the available Freight
// are worked out) fails while *failPolicies is true.
func coalesceSetup(t *testing.T, st *kargoapi.Stage) (r *Reconciler, c client.Client, writes *int, now *time.Time, failPolicies *bool) {
	t.Helper()
	s, err := scheme.New()
	require.NoError(t, err)
	writes, failPolicies = new(int), new(bool)
	r = &Reconciler{}
	c = fake.NewClientBuilder().WithScheme(s).WithObjects(st).WithStatusSubresource(st, &kargoapi.Freight{}, &kargoapi.Promotion{}).
		WithIndex(&kargoapi.Promotion{}, index.PromotionsByStage, index.PromotionStage).
		WithIndex(&kargoapi.PromotionPolicy{}, index.PoliciesByStage, index.PolicyStage).
		WithInterceptorFuncs(freightEvents(r, interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			if _, ok := o.(*kargoapi.Stage); ok && sub == "status" {
				*writes++
			}
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		}, List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*kargoapi.PromotionPolicyList); ok && *failPolicies {
				return errors.New("injected: list PromotionPolicies")
			}
			return c.List(ctx, list, opts...)
		}})).Build()
	now = new(time.Time)
	*now = time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	r.Client, r.Now = c, func() time.Time { return *now }
	return r, c, writes, now, failPolicies
}

// A burst of Freight for the Warehouse a Stage subscribes to costs the Stage
// one status write at the first Freight and one at the end of the window,
// which carries every Freight of the burst; the list is then exactly right.
func TestBurstOfFreightWritesAvailableFreightOncePerWindow(t *testing.T) {
	ctx := context.Background()
	st := objects.Stage("p", "test", objects.SubscribesTo("w"))
	r, c, writes, now, failPolicies := coalesceSetup(t, st)
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(st)}
	addFreight := func(i int) {
		require.NoError(t, c.Create(ctx, objects.Freight("p", objects.FromWarehouse("w"), objects.Image("nginx", fmt.Sprintf("1.0.%d", i)), objects.FreightCreated(*now))))
	}
	available := func() int {
		got := &kargoapi.Stage{}
		require.NoError(t, c.Get(ctx, req.NamespacedName, got))
		return len(got.Status.AvailableFreight)
	}

	addFreight(0)
	res, err := r.Reconcile(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 1, *writes, "the first change is written at once")
	require.Equal(t, 1, available())
	require.Zero(t, res.RequeueAfter)

	for i := 1; i <= 8; i++ {
		*now = now.Add(50 * time.Millisecond)
		addFreight(i)
		res, err = r.Reconcile(ctx, req)
		require.NoError(t, err)
		require.Equal(t, AvailableFreightWindow-time.Duration(i)*50*time.Millisecond, res.RequeueAfter, "the pass comes back when the window ends")
	}
	require.Equal(t, 1, *writes, "Freight within the window wait for its end")
	require.Equal(t, 1, available())

	*now = now.Add(res.RequeueAfter)
	res, err = r.Reconcile(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 2, *writes)
	require.Equal(t, 9, available(), "the write at the end of the window carries the whole burst")
	require.Zero(t, res.RequeueAfter)

	got := &kargoapi.Stage{}
	require.NoError(t, c.Get(ctx, req.NamespacedName, got))
	require.Equal(t, "9 Freight available", got.Status.Conditions[0].Message, "the Ready message counts what the list shows")

	// Nothing new: no write, no requeue.
	*now = now.Add(10 * time.Millisecond)
	res, err = r.Reconcile(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 2, *writes)
	require.Zero(t, res.RequeueAfter)

	// A pass that fails after working out the list writes it at once:
	// its retry is the workqueue's back-off, which may outlast the window.
	*now = now.Add(10 * time.Millisecond)
	addFreight(9)
	*failPolicies = true
	_, err = r.Reconcile(ctx, req)
	require.ErrorContains(t, err, "injected")
	require.Equal(t, 3, *writes)
	require.Equal(t, 10, available())
}

// Any change besides the available Freight is written at once, and carries
// the newest list with it.
func TestOtherStatusChangesAreNotHeldBack(t *testing.T) {
	ctx := context.Background()
	f0 := objects.Freight("p", objects.FromWarehouse("w"), objects.Image("nginx", "1.0.0"), objects.Alias("first"), objects.FreightCreated(time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)))
	st := objects.Stage("p", "test", objects.SubscribesTo("w"))
	st.Status.CurrentFreight = &kargoapi.SimpleFreight{ID: f0.Name, Alias: "first"}
	r, c, writes, now, _ := coalesceSetup(t, st)
	require.NoError(t, c.Create(ctx, f0))
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(st)}
	_, err := r.Reconcile(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 1, *writes)

	// Within the window, a new Freight and a renamed one: the alias shown
	// as current Freight must not wait.
	*now = now.Add(100 * time.Millisecond)
	require.NoError(t, c.Create(ctx, objects.Freight("p", objects.FromWarehouse("w"), objects.Image("nginx", "1.0.1"), objects.FreightCreated(*now))))
	renamed := &kargoapi.Freight{}
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(f0), renamed))
	renamed.Alias = "renamed"
	require.NoError(t, c.Update(ctx, renamed))
	res, err := r.Reconcile(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 2, *writes)
	require.Zero(t, res.RequeueAfter)
	got := &kargoapi.Stage{}
	require.NoError(t, c.Get(ctx, req.NamespacedName, got))
	require.Equal(t, "renamed", got.Status.CurrentFreight.Alias)
	require.Len(t, got.Status.AvailableFreight, 2, "the write that could not wait carries the newest list too")
}

func TestOnlyAvailableChanged(t *testing.T) {
	before := objects.Stage("p", "test", objects.SubscribesTo("w"))
	before.Status.AvailableFreight = []kargoapi.SimpleFreight{{ID: "a"}}
	before.Status.Phase = kargoapi.StagePhaseNotApplicable
	ready := func(st *kargoapi.Stage, msg string) {
		conditions.Ready(&st.Status.Conditions, st.Generation, kargoapi.ReasonReconciled, msg)
	}
	ready(before, collection.ReadyMessage(before))

	for _, tc := range []struct {
		name   string
		change func(*kargoapi.Stage)
		want   bool
	}{
		{"nothing", func(*kargoapi.Stage) {}, true},
		{"a new Freight, counted in the Ready message", func(st *kargoapi.Stage) {
			st.Status.AvailableFreight = append([]kargoapi.SimpleFreight{{ID: "b"}}, st.Status.AvailableFreight...)
			ready(st, collection.ReadyMessage(st))
		}, true},
		{"a new Freight and another Ready message", func(st *kargoapi.Stage) {
			st.Status.AvailableFreight = append([]kargoapi.SimpleFreight{{ID: "b"}}, st.Status.AvailableFreight...)
			ready(st, "something else")
		}, false},
		{"the phase", func(st *kargoapi.Stage) { st.Status.Phase = kargoapi.StagePhaseSteady }, false},
		{"a new Freight and the health", func(st *kargoapi.Stage) {
			st.Status.AvailableFreight = nil
			st.Status.Health = &kargoapi.Health{Status: kargoapi.HealthStateHealthy}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := before.DeepCopy()
			tc.change(st)
			require.Equal(t, tc.want, onlyAvailableChanged(before, st))
		})
	}
}
