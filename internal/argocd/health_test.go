package argocd

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// synced returns an Application whose last sync succeeded, synced to its
// targetRevision and Healthy, changed by mutate.
func synced(mutate ...func(*argocdv1.Application)) *argocdv1.Application {
	return application("guestbook", append([]func(*argocdv1.Application){func(a *argocdv1.Application) {
		a.Spec.Source.TargetRevision = commitID
		a.Status = argocdv1.ApplicationStatus{
			Sync:           argocdv1.SyncStatus{Status: argocdv1.SyncStatusSynced, Revision: commitID},
			Health:         argocdv1.HealthStatus{Status: argocdv1.HealthStatusHealthy},
			OperationState: &argocdv1.OperationState{Phase: argocdv1.OperationSucceeded},
		}
	}}, mutate...)...)
}

func TestAppHealth(t *testing.T) {
	revisionUpdate := []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo, UpdateTargetRevision: true}}
	for _, tc := range []struct {
		name  string
		app   *argocdv1.Application
		sus   []kargoapi.ArgoCDSourceUpdate
		state kargoapi.HealthState
		msg   string
	}{
		{
			name:  "synced to the promoted revision and healthy",
			app:   synced(),
			sus:   revisionUpdate,
			state: kargoapi.HealthStateHealthy,
		},
		{
			name: "sync requested and not yet started",
			app: synced(func(a *argocdv1.Application) {
				a.Operation = &argocdv1.Operation{Sync: &argocdv1.SyncOperation{Revision: commitID}}
			}),
			state: kargoapi.HealthStateProgressing,
			msg:   "Application argocd/guestbook has a sync waiting for Argo CD",
		},
		{
			name:  "sync running",
			app:   synced(func(a *argocdv1.Application) { a.Status.OperationState.Phase = argocdv1.OperationRunning }),
			state: kargoapi.HealthStateProgressing,
			msg:   "Application argocd/guestbook is syncing",
		},
		{
			// Argo CD keeps the operation it runs on the Application until
			// it ends (seen with the real Argo CD in test/argocd).
			name: "sync running, its operation still on the Application",
			app: synced(func(a *argocdv1.Application) {
				a.Operation = &argocdv1.Operation{Sync: &argocdv1.SyncOperation{Revision: commitID}}
				a.Status.OperationState = &argocdv1.OperationState{Phase: argocdv1.OperationRunning, Message: "waiting for healthy state of /ConfigMap/first"}
			}),
			state: kargoapi.HealthStateProgressing,
			msg:   "Application argocd/guestbook is syncing: waiting for healthy state of /ConfigMap/first",
		},
		{
			// Seen with the real Argo CD right after a sync that created the
			// resources: its cache lags.
			name: "Missing right after a successful sync",
			app: synced(func(a *argocdv1.Application) {
				a.Status.Health = argocdv1.HealthStatus{Status: argocdv1.HealthStatusMissing}
				a.Status.OperationState.FinishedAt = &metav1.Time{Time: time.Now().Add(-5 * time.Second)}
			}),
			state: kargoapi.HealthStateProgressing,
			msg:   "Application argocd/guestbook was synced at ",
		},
		{
			name: "Missing long after the last sync",
			app: synced(func(a *argocdv1.Application) {
				a.Status.Health = argocdv1.HealthStatus{Status: argocdv1.HealthStatusMissing}
				a.Status.OperationState.FinishedAt = &metav1.Time{Time: time.Now().Add(-time.Minute)}
			}),
			state: kargoapi.HealthStateUnhealthy,
			msg:   "Application argocd/guestbook is Missing",
		},
		{
			name: "sync failed",
			app: synced(func(a *argocdv1.Application) {
				a.Status.OperationState = &argocdv1.OperationState{Phase: argocdv1.OperationFailed, Message: "one or more objects failed to apply"}
			}),
			state: kargoapi.HealthStateUnhealthy,
			msg:   "Application argocd/guestbook's last sync ended in Failed: one or more objects failed to apply",
		},
		{
			name: "resources still rolling out",
			app: synced(func(a *argocdv1.Application) {
				a.Status.Health = argocdv1.HealthStatus{Status: argocdv1.HealthStatusProgressing, Message: "waiting for rollout"}
			}),
			state: kargoapi.HealthStateProgressing,
			msg:   "Application argocd/guestbook is Progressing: waiting for rollout",
		},
		{
			name:  "rollout paused on purpose",
			app:   synced(func(a *argocdv1.Application) { a.Status.Health.Status = argocdv1.HealthStatusSuspended }),
			state: kargoapi.HealthStateProgressing,
			msg:   "Application argocd/guestbook is Suspended",
		},
		{
			name: "degraded",
			app: synced(func(a *argocdv1.Application) {
				a.Status.Health = argocdv1.HealthStatus{Status: argocdv1.HealthStatusDegraded, Message: "CrashLoopBackOff"}
			}),
			state: kargoapi.HealthStateUnhealthy,
			msg:   "Application argocd/guestbook is Degraded: CrashLoopBackOff",
		},
		{
			name:  "resources missing",
			app:   synced(func(a *argocdv1.Application) { a.Status.Health.Status = argocdv1.HealthStatusMissing }),
			state: kargoapi.HealthStateUnhealthy,
			msg:   "Application argocd/guestbook is Missing",
		},
		{
			name:  "health unknown to Argo CD",
			app:   synced(func(a *argocdv1.Application) { a.Status.Health.Status = argocdv1.HealthStatusUnknown }),
			state: kargoapi.HealthStateUnhealthy,
			msg:   "Application argocd/guestbook is Unknown",
		},
		{
			name:  "never assessed",
			app:   synced(func(a *argocdv1.Application) { a.Status = argocdv1.ApplicationStatus{} }),
			state: kargoapi.HealthStateUnknown,
			msg:   "Application argocd/guestbook has no health yet",
		},
		{
			name:  "out of sync after the sync ended",
			app:   synced(func(a *argocdv1.Application) { a.Status.Sync.Status = argocdv1.SyncStatusOutOfSync }),
			state: kargoapi.HealthStateUnhealthy,
			msg:   "Application argocd/guestbook is OutOfSync",
		},
		{
			name:  "synced to another revision",
			app:   synced(func(a *argocdv1.Application) { a.Status.Sync.Revision = pushedID }),
			sus:   revisionUpdate,
			state: kargoapi.HealthStateUnhealthy,
			msg:   "Application argocd/guestbook is synced to " + pushedID + ", not the promoted " + commitID,
		},
		{
			name:  "synced to another revision of a source kargo does not point",
			app:   synced(func(a *argocdv1.Application) { a.Status.Sync.Revision = pushedID }),
			sus:   []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo}},
			state: kargoapi.HealthStateHealthy,
		},
		{
			name: "multi-source, the pointed source synced elsewhere",
			app: synced(func(a *argocdv1.Application) {
				a.Spec.Source = nil
				a.Spec.Sources = []argocdv1.ApplicationSource{
					{RepoURL: gitRepo, TargetRevision: "main"},
					{RepoURL: chartRepo, Chart: "guestbook", TargetRevision: "1.4.0"},
				}
				a.Status.Sync.Revision = ""
				a.Status.Sync.Revisions = []string{commitID, "1.3.0"}
			}),
			sus:   []kargoapi.ArgoCDSourceUpdate{{RepoURL: chartRepo, Chart: "guestbook", UpdateTargetRevision: true}},
			state: kargoapi.HealthStateUnhealthy,
			msg:   "Application argocd/guestbook is synced to 1.3.0, not the promoted 1.4.0",
		},
		{
			name: "multi-source, all pointed sources synced",
			app: synced(func(a *argocdv1.Application) {
				a.Spec.Source = nil
				a.Spec.Sources = []argocdv1.ApplicationSource{
					{RepoURL: gitRepo, TargetRevision: "main"},
					{RepoURL: chartRepo, Chart: "guestbook", TargetRevision: "1.4.0"},
				}
				a.Status.Sync.Revisions = []string{commitID, "1.4.0"}
			}),
			sus:   []kargoapi.ArgoCDSourceUpdate{{RepoURL: chartRepo, Chart: "guestbook", UpdateTargetRevision: true}},
			state: kargoapi.HealthStateHealthy,
		},
		{
			name: "multi-source, no revision reported for the pointed source",
			app: synced(func(a *argocdv1.Application) {
				a.Spec.Source = nil
				a.Spec.Sources = []argocdv1.ApplicationSource{{RepoURL: chartRepo, Chart: "guestbook", TargetRevision: "1.4.0"}}
			}),
			sus:   []kargoapi.ArgoCDSourceUpdate{{RepoURL: chartRepo, UpdateTargetRevision: true}},
			state: kargoapi.HealthStateUnhealthy,
			msg:   "Application argocd/guestbook is synced to nothing, not the promoted 1.4.0",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, msg := appHealth(tc.app, tc.sus)
			require.Equal(t, tc.state, state)
			if strings.HasSuffix(tc.msg, " at ") { // the message goes on with a time
				require.True(t, strings.HasPrefix(msg, tc.msg), msg)
				return
			}
			require.Equal(t, tc.msg, msg)
		})
	}
}

func TestHealthAggregates(t *testing.T) {
	named := func(ns, name string, a *argocdv1.Application) *argocdv1.Application {
		a.Namespace, a.Name = ns, name
		return a
	}
	healthy := func(name string) *argocdv1.Application { return named(DefaultNamespace, name, synced()) }
	progressing := func(name string) *argocdv1.Application {
		return named(DefaultNamespace, name, synced(func(a *argocdv1.Application) { a.Status.OperationState.Phase = argocdv1.OperationRunning }))
	}
	degraded := func(name string) *argocdv1.Application {
		return named(DefaultNamespace, name, synced(func(a *argocdv1.Application) { a.Status.Health.Status = argocdv1.HealthStatusDegraded }))
	}
	for _, tc := range []struct {
		name    string
		apps    []client.Object
		updates []kargoapi.ArgoCDAppUpdate
		want    kargoapi.Health
	}{
		{
			name: "no Argo CD updates",
			apps: []client.Object{degraded("a")},
			want: kargoapi.Health{Status: kargoapi.HealthStateHealthy},
		},
		{
			name:    "all healthy",
			apps:    []client.Object{healthy("a"), named("apps", "b", synced())},
			updates: []kargoapi.ArgoCDAppUpdate{{AppName: "a"}, {AppName: "b", AppNamespace: "apps"}},
			want:    kargoapi.Health{Status: kargoapi.HealthStateHealthy},
		},
		{
			name:    "Progressing beats Healthy",
			apps:    []client.Object{healthy("a"), progressing("b")},
			updates: []kargoapi.ArgoCDAppUpdate{{AppName: "a"}, {AppName: "b"}},
			want:    kargoapi.Health{Status: kargoapi.HealthStateProgressing, Issues: []string{"Application argocd/b is syncing"}},
		},
		{
			name:    "Unknown beats Progressing",
			apps:    []client.Object{progressing("b")},
			updates: []kargoapi.ArgoCDAppUpdate{{AppName: "b"}, {AppName: "gone"}},
			want: kargoapi.Health{Status: kargoapi.HealthStateUnknown, Issues: []string{
				"Application argocd/b is syncing",
				"Application argocd/gone not found",
			}},
		},
		{
			name:    "Unhealthy beats Unknown, and issues are sorted",
			apps:    []client.Object{degraded("z"), progressing("b")},
			updates: []kargoapi.ArgoCDAppUpdate{{AppName: "z"}, {AppName: "gone"}, {AppName: "b"}},
			want: kargoapi.Health{Status: kargoapi.HealthStateUnhealthy, Issues: []string{
				"Application argocd/b is syncing",
				"Application argocd/gone not found",
				"Application argocd/z is Degraded",
			}},
		},
		{
			name: "an Application named twice is reported once, with the checks of both updates",
			apps: []client.Object{named(DefaultNamespace, "a", synced(func(a *argocdv1.Application) { a.Status.Sync.Revision = pushedID }))},
			updates: []kargoapi.ArgoCDAppUpdate{
				{AppName: "a", AppNamespace: DefaultNamespace},
				{AppName: "a", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo, UpdateTargetRevision: true}}},
			},
			want: kargoapi.Health{Status: kargoapi.HealthStateUnhealthy, Issues: []string{
				"Application argocd/a is synced to " + pushedID + ", not the promoted " + commitID,
			}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.apps...)
			st := objects.Stage(project, stageName, objects.ArgoCDUpdates(tc.updates...))
			if tc.updates == nil {
				st.Spec.PromotionMechanisms = nil
			}
			got := Health(context.Background(), c, st, "")
			// One entry per Application, in the order the Stage names
			// them, each agreeing with the summary.
			var names, issues []string
			for _, a := range got.Applications {
				names = append(names, a.Namespace+"/"+a.Name)
				if a.Status != kargoapi.HealthStateHealthy {
					issues = append(issues, a.Message)
				}
			}
			require.Equal(t, distinctApps(tc.updates), names)
			require.ElementsMatch(t, tc.want.Issues, issues)
			got.Applications = nil
			require.Equal(t, tc.want, got)
		})
	}
}

// distinctApps names the Applications updates update, once each, in order.
func distinctApps(updates []kargoapi.ArgoCDAppUpdate) []string {
	var names []string
	for _, u := range updates {
		ns := u.AppNamespace
		if ns == "" {
			ns = DefaultNamespace
		}
		if !slices.Contains(names, ns+"/"+u.AppName) {
			names = append(names, ns+"/"+u.AppName)
		}
	}
	return names
}

// Each Application's entry carries what Argo CD reports of it: its own
// health and sync status, and the revision of each source.
func TestHealthReportsEachApplication(t *testing.T) {
	app := func(name string, opts ...func(*argocdv1.Application)) *argocdv1.Application {
		a := synced(opts...)
		a.Namespace, a.Name = DefaultNamespace, name
		return a
	}
	c := newClient(t, app("a"), app("b", func(a *argocdv1.Application) { a.Status.OperationState.Phase = argocdv1.OperationRunning }))
	st := objects.Stage(project, stageName, objects.ArgoCDUpdates(kargoapi.ArgoCDAppUpdate{AppName: "b"}, kargoapi.ArgoCDAppUpdate{AppName: "a"}, kargoapi.ArgoCDAppUpdate{AppName: "gone"}))
	h := Health(context.Background(), c, st, "")
	require.Len(t, h.Applications, 3)
	b, a, gone := h.Applications[0], h.Applications[1], h.Applications[2]
	require.Equal(t, kargoapi.ApplicationHealth{Namespace: DefaultNamespace, Name: "gone", Status: kargoapi.HealthStateUnknown, Message: "Application argocd/gone not found"}, gone)
	require.Equal(t, "b", b.Name)
	require.Equal(t, kargoapi.HealthStateProgressing, b.Status)
	require.Equal(t, "Application argocd/b is syncing", b.Message)
	require.Equal(t, "a", a.Name)
	require.Equal(t, kargoapi.HealthStateHealthy, a.Status)
	require.Empty(t, a.Message)
	require.Equal(t, string(argocdv1.HealthStatusHealthy), a.HealthStatus)
	require.Equal(t, string(argocdv1.SyncStatusSynced), a.SyncStatus)
	require.NotEmpty(t, a.Revisions)
}

func TestHealthUsesTheDefaultNamespaceGiven(t *testing.T) {
	c := newClient(t, synced(func(a *argocdv1.Application) { a.Namespace = "gitops" }))
	st := objects.Stage(project, stageName, objects.ArgoCDUpdates(kargoapi.ArgoCDAppUpdate{AppName: "guestbook"}))
	summary := func(h kargoapi.Health) kargoapi.Health {
		h.Applications = nil
		return h
	}
	require.Equal(t, kargoapi.Health{Status: kargoapi.HealthStateHealthy}, summary(Health(context.Background(), c, st, "gitops")))
	require.Equal(t, kargoapi.Health{Status: kargoapi.HealthStateUnknown, Issues: []string{"Application argocd/guestbook not found"}},
		summary(Health(context.Background(), c, st, "")))
}

// Health reads only Applications that let the Stage change them, as Apply
// does: another Stage's Application, or one that opted in to no Stage,
// is Unknown, and nothing Argo CD says about it reaches the Stage.
func TestHealthReadsOnlyApplicationsThatOptIn(t *testing.T) {
	degraded := func(a *argocdv1.Application) {
		a.Status.Health = argocdv1.HealthStatus{Status: argocdv1.HealthStatusDegraded, Message: "secret-db-host unreachable"}
	}
	for _, tc := range []struct {
		name       string
		annotation *string
	}{
		{name: "no annotation"},
		{name: "another project's Stage", annotation: ptrTo("other-project:prod")},
		{name: "the same Stage name in another project", annotation: ptrTo("other-project:" + stageName)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := synced(degraded, func(a *argocdv1.Application) {
				delete(a.Annotations, kargoapi.AuthorizedStageAnnotationKey)
				if tc.annotation != nil {
					a.Annotations[kargoapi.AuthorizedStageAnnotationKey] = *tc.annotation
				}
			})
			h := Health(context.Background(), newClient(t, app), objects.Stage(project, stageName, objects.ArgoCDUpdates(kargoapi.ArgoCDAppUpdate{AppName: "guestbook"})), "")
			require.Equal(t, kargoapi.HealthStateUnknown, h.Status)
			require.Len(t, h.Issues, 1)
			require.Contains(t, h.Issues[0], `does not let Stage `+project+`/`+stageName+` change it`)
			require.NotContains(t, h.Issues[0], "secret-db-host", "nothing of the Application's status is copied")
			require.NotContains(t, h.Issues[0], "other-project", "the Stage it belongs to is not revealed")
			require.Equal(t, []kargoapi.ApplicationHealth{{Namespace: DefaultNamespace, Name: "guestbook", Status: kargoapi.HealthStateUnknown, Message: h.Issues[0]}}, h.Applications,
				"neither Argo CD's health, its sync status nor its revisions are copied")
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
