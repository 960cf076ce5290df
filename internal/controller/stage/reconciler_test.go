package stage

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/controller/poll"
	"github.com/kargohq/kargo/internal/discovery"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/scheme"
)

type fixedDiscoverer struct {
	result discovery.Result
	calls  int
}

func (f *fixedDiscoverer) Discover(context.Context, discovery.Request) discovery.Result {
	f.calls++
	return f.result
}

func setup(t *testing.T, st *kargoapi.Stage) (*Reconciler, client.Client, *fixedDiscoverer) {
	t.Helper()
	s, err := scheme.New()
	require.NoError(t, err)
	r := &Reconciler{}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(st).WithStatusSubresource(st, &kargoapi.Freight{}, &kargoapi.Promotion{}).
		WithIndex(&kargoapi.Promotion{}, index.PromotionsByStage, index.PromotionStage).
		WithIndex(&kargoapi.PromotionPolicy{}, index.PoliciesByStage, index.PolicyStage).
		WithInterceptorFuncs(freightEvents(r, interceptor.Funcs{})).Build()
	d := &fixedDiscoverer{}
	rec := events.NewFakeRecorder(10)
	r.Client, r.Recorder = c, rec
	r.Poller = &poll.Poller{Discoverer: d, Producer: &freight.Producer{Client: c, Reader: c}, Recorder: rec, Jitter: func() float64 { return 0 }}
	return r, c, d
}

// The Concepts page's Stage with its own repos subscriptions: each new set of
// materials lands on status.availableFreight, newest first, de-duplicated.
func TestReposSubscriptionFillsAvailableFreight(t *testing.T) {
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "kargo-demo", Generation: 1},
		Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Repos: &kargoapi.RepoSubscriptions{
			Git:    []kargoapi.GitSubscription{{RepoURL: "https://github.com/example/kargo-demo.git", Branch: "main"}},
			Images: []kargoapi.ImageSubscription{{RepoURL: "nginx", SemverConstraint: "^1.24.0"}},
		}}},
	}
	r, c, d := setup(t, st)
	commit := kargoapi.GitCommit{RepoURL: "https://github.com/example/kargo-demo.git", ID: "dd8dc6a021d9d6c42e937f8b8f221a838342ec2a"}
	d.result = discovery.Result{Commits: []kargoapi.GitCommit{commit}, Images: []kargoapi.Image{{RepoURL: "nginx", Tag: "1.24.0"}}}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(st)}

	_, err := r.Reconcile(context.Background(), req)
	require.NoError(t, err)
	_, err = r.Reconcile(context.Background(), req)
	require.NoError(t, err)
	d.result.Images[0].Tag = "1.24.1"
	_, err = r.Reconcile(context.Background(), req)
	require.NoError(t, err)

	got := &kargoapi.Stage{}
	require.NoError(t, c.Get(context.Background(), req.NamespacedName, got))
	require.Len(t, got.Status.AvailableFreight, 2)
	// The fake client sets no creation times, so order is checked by the
	// availability package and the envtest suite; here, pick by tag.
	newest, older := got.Status.AvailableFreight[0], got.Status.AvailableFreight[1]
	if newest.Images[0].Tag != "1.24.1" {
		newest, older = older, newest
	}
	require.Equal(t, "1.24.1", newest.Images[0].Tag)
	require.Equal(t, freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginStage, Name: "test"}, []kargoapi.GitCommit{commit}, newest.Images, nil), newest.ID)
	require.NotNil(t, newest.FirstSeen)

	// The entry has the shape of the seed's status example.
	raw, err := yaml.Marshal(older)
	require.NoError(t, err)
	require.Contains(t, string(raw), "commits:\n- id: dd8dc6a021d9d6c42e937f8b8f221a838342ec2a\n  repoURL: https://github.com/example/kargo-demo.git\n")
	require.Contains(t, string(raw), "images:\n- repoURL: nginx\n  tag: 1.24.0\n")
	require.Contains(t, string(raw), "firstSeen:")

	f := &kargoapi.Freight{}
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "kargo-demo", Name: newest.ID}, f))
	require.Equal(t, &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginStage, Name: "test"}, f.Origin)
}

func TestWarehouseSubscribedStageDiscoversNothingItself(t *testing.T) {
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "kargo-demo"},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "kargo-demo"}},
	}
	r, c, d := setup(t, st)
	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(st)})
	require.NoError(t, err)
	require.Zero(t, d.calls)
	got := &kargoapi.Stage{}
	require.NoError(t, c.Get(context.Background(), client.ObjectKeyFromObject(st), got))
	require.Equal(t, kargoapi.StagePhaseNotApplicable, got.Status.Phase)
}

func TestRefreshAliasesFollowsRenames(t *testing.T) {
	st := &kargoapi.Stage{Status: kargoapi.StageStatus{
		CurrentFreight: &kargoapi.SimpleFreight{ID: "a", Alias: "old"},
		History:        []kargoapi.SimpleFreight{{ID: "a", Alias: "old"}, {ID: "b", Alias: "bee"}},
		LastPromotion:  &kargoapi.PromotionReference{Name: "p", Freight: &kargoapi.SimpleFreight{ID: "a", Alias: "old"}},
	}}
	all := []kargoapi.Freight{{Alias: "hotfix"}, {Alias: "bee"}}
	all[0].Name, all[1].Name = "a", "b"
	refreshAliases(st, all)
	require.Equal(t, "hotfix", st.Status.CurrentFreight.Alias)
	require.Equal(t, "hotfix", st.Status.History[0].Alias)
	require.Equal(t, "bee", st.Status.History[1].Alias)
	require.Equal(t, "hotfix", st.Status.LastPromotion.Freight.Alias)
}
