package argocdsim

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
)

func newApp(name string, mutate func(*argocdv1.Application)) *argocdv1.Application {
	app := &argocdv1.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: "argocd", Name: name, Annotations: map[string]string{refreshAnnotationKey: "hard"}},
		Spec:       argocdv1.ApplicationSpec{Source: &argocdv1.ApplicationSource{RepoURL: "https://git.example.com/gitops", TargetRevision: "abc"}},
		Operation:  &argocdv1.Operation{Sync: &argocdv1.SyncOperation{Revision: "abc"}},
	}
	if mutate != nil {
		mutate(app)
	}
	return app
}

func setup(t *testing.T, apps ...client.Object) (*Sim, client.Client) {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, argocdv1.AddToScheme(s))
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(apps...).Build()
	return &Sim{Client: c}, c
}

func get(t *testing.T, c client.Client, name string) *argocdv1.Application {
	t.Helper()
	app := &argocdv1.Application{}
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "argocd", Name: name}, app))
	return app
}

func TestSyncRunsThenSucceeds(t *testing.T) {
	sim, c := setup(t, newApp("a", nil))
	ctx := context.Background()

	require.NoError(t, sim.Step(ctx))
	app := get(t, c, "a")
	require.Nil(t, app.Operation, "the operation is taken")
	require.NotContains(t, app.Annotations, refreshAnnotationKey, "the refresh is done")
	require.Equal(t, argocdv1.OperationRunning, app.Status.OperationState.Phase)
	require.Equal(t, "abc", app.Status.OperationState.Operation.Sync.Revision)
	require.Equal(t, argocdv1.HealthStatusProgressing, app.Status.Health.Status)

	require.NoError(t, sim.Step(ctx))
	app = get(t, c, "a")
	require.Equal(t, argocdv1.OperationSucceeded, app.Status.OperationState.Phase)
	require.NotNil(t, app.Status.OperationState.FinishedAt)
	require.Equal(t, argocdv1.SyncStatus{Status: argocdv1.SyncStatusSynced, Revision: "abc"}, app.Status.Sync)
	require.Equal(t, argocdv1.HealthStatus{Status: argocdv1.HealthStatusHealthy}, app.Status.Health)

	rv := app.ResourceVersion
	require.NoError(t, sim.Step(ctx))
	require.Equal(t, rv, get(t, c, "a").ResourceVersion, "a settled Application is not written")
}

func TestBehaviour(t *testing.T) {
	multi := func(a *argocdv1.Application) {
		a.Spec.Source = nil
		a.Spec.Sources = []argocdv1.ApplicationSource{{RepoURL: "r1", TargetRevision: "main"}, {RepoURL: "r2", Chart: "c", TargetRevision: "1.0.0"}}
		a.Operation.Sync = &argocdv1.SyncOperation{Revisions: []string{"abc", "1.0.0"}}
	}
	for _, tc := range []struct {
		name      string
		mutate    func(*argocdv1.Application)
		behaviour Behaviour
		phase     argocdv1.OperationPhase
		sync      argocdv1.SyncStatus
		health    argocdv1.HealthStatus
	}{
		{
			name:      "degraded",
			behaviour: Behaviour{Health: argocdv1.HealthStatusDegraded, Message: "CrashLoopBackOff"},
			phase:     argocdv1.OperationSucceeded,
			sync:      argocdv1.SyncStatus{Status: argocdv1.SyncStatusSynced, Revision: "abc"},
			health:    argocdv1.HealthStatus{Status: argocdv1.HealthStatusDegraded, Message: "CrashLoopBackOff"},
		},
		{
			name:      "held",
			behaviour: Behaviour{Hold: true},
			phase:     argocdv1.OperationRunning,
			health:    argocdv1.HealthStatus{Status: argocdv1.HealthStatusProgressing},
		},
		{
			name:      "synced to another revision",
			behaviour: Behaviour{SyncTo: "def"},
			phase:     argocdv1.OperationSucceeded,
			sync:      argocdv1.SyncStatus{Status: argocdv1.SyncStatusSynced, Revision: "def"},
			health:    argocdv1.HealthStatus{Status: argocdv1.HealthStatusHealthy},
		},
		{
			name:   "multi-source",
			mutate: multi,
			phase:  argocdv1.OperationSucceeded,
			sync:   argocdv1.SyncStatus{Status: argocdv1.SyncStatusSynced, Revisions: []string{"abc", "1.0.0"}},
			health: argocdv1.HealthStatus{Status: argocdv1.HealthStatusHealthy},
		},
		{
			name:   "operation without revisions",
			mutate: func(a *argocdv1.Application) { a.Operation.Sync.Revision = "" },
			phase:  argocdv1.OperationSucceeded,
			sync:   argocdv1.SyncStatus{Status: argocdv1.SyncStatusSynced, Revision: "abc"},
			health: argocdv1.HealthStatus{Status: argocdv1.HealthStatusHealthy},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, c := setup(t, newApp("a", tc.mutate))
			sim.SetBehaviour("argocd", "a", tc.behaviour)
			for range 3 {
				require.NoError(t, sim.Step(context.Background()))
			}
			app := get(t, c, "a")
			require.Equal(t, tc.phase, app.Status.OperationState.Phase)
			require.Equal(t, tc.sync, app.Status.Sync)
			require.Equal(t, tc.health, app.Status.Health)
		})
	}
}

func TestBehaviourChangesAfterTheSync(t *testing.T) {
	sim, c := setup(t, newApp("a", nil))
	sim.SetBehaviour("argocd", "a", Behaviour{Hold: true})
	for range 2 {
		require.NoError(t, sim.Step(context.Background()))
	}
	require.Equal(t, argocdv1.OperationRunning, get(t, c, "a").Status.OperationState.Phase)

	sim.SetBehaviour("argocd", "a", Behaviour{})
	require.NoError(t, sim.Step(context.Background()))
	require.Equal(t, argocdv1.HealthStatusHealthy, get(t, c, "a").Status.Health.Status)

	sim.SetBehaviour("argocd", "a", Behaviour{Health: argocdv1.HealthStatusMissing})
	require.NoError(t, sim.Step(context.Background()))
	require.Equal(t, argocdv1.HealthStatusMissing, get(t, c, "a").Status.Health.Status)
}

func TestApplicationsNeverSyncedAreLeftAlone(t *testing.T) {
	sim, c := setup(t, newApp("a", func(a *argocdv1.Application) { a.Operation = nil }))
	rv := get(t, c, "a").ResourceVersion
	require.NoError(t, sim.Step(context.Background()))
	require.Equal(t, rv, get(t, c, "a").ResourceVersion)
}
