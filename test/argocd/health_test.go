package argocd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	kargoargocd "github.com/kargohq/kargo/internal/argocd"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/argocdsim"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// promoteTo creates an Application per name that lets the test Stage change
// it, and promotes the test Freight to them, pointing each at the Freight's
// commit. It returns the updates, for Health.
func promoteTo(t *testing.T, project, apps string, names ...string) []kargoapi.ArgoCDAppUpdate {
	t.Helper()
	updates := make([]kargoapi.ArgoCDAppUpdate, len(names))
	for i, name := range names {
		createApp(t, apps, `{
		  "metadata": {"name": "`+name+`", "annotations": `+authorized(project)+`},
		  "spec": {"source": {"repoURL": "`+gitRepo+`", "path": "stages/test", "targetRevision": "main"}}
		}`)
		updates[i] = kargoapi.ArgoCDAppUpdate{
			AppName:       name,
			SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo, UpdateTargetRevision: true}},
		}
	}
	u := &kargoargocd.Updater{Client: env.Admin, DefaultNamespace: apps}
	_, err := u.Apply(context.Background(), newStage(project), testFreight(project), updates, nil)
	require.NoError(t, err)
	return updates
}

// waitHealth polls the health of a Stage with updates until it is want.
func waitHealth(t *testing.T, project, apps string, updates []kargoapi.ArgoCDAppUpdate, want kargoapi.Health) {
	t.Helper()
	st := newStage(project, updates...)
	kubetest.Eventually(t, 30*time.Second, "Stage health", func() (bool, string) {
		got := kargoargocd.Health(context.Background(), env.Admin, st, apps)
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprint(got)
	})
}

func TestHealthAcrossApplications(t *testing.T) {
	project, apps := newNamespace(t, "project"), newNamespace(t, "apps")
	sim := &argocdsim.Sim{Client: env.Admin, Namespace: apps}
	sim.SetBehaviour(apps, "degraded", argocdsim.Behaviour{Health: argocdv1.HealthStatusDegraded, Message: "Deployment guestbook has 0/3 ready replicas"})
	sim.SetBehaviour(apps, "held", argocdsim.Behaviour{Hold: true})
	sim.SetBehaviour(apps, "wrong", argocdsim.Behaviour{SyncTo: pushedID})
	sim.Start(t)
	updates := promoteTo(t, project, apps, "healthy", "degraded", "held", "wrong")
	missing := kargoapi.ArgoCDAppUpdate{AppName: "missing"}

	for _, tc := range []struct {
		name    string
		updates []kargoapi.ArgoCDAppUpdate
		want    kargoapi.Health
	}{
		{
			name:    "healthy alone",
			updates: updates[:1],
			want:    kargoapi.Health{Status: kargoapi.HealthStateHealthy},
		},
		{
			name:    "held sync is Progressing",
			updates: []kargoapi.ArgoCDAppUpdate{updates[0], updates[2]},
			want: kargoapi.Health{Status: kargoapi.HealthStateProgressing, Issues: []string{
				"Application " + apps + "/held is syncing",
			}},
		},
		{
			name:    "missing Application is Unknown, worse than Progressing",
			updates: []kargoapi.ArgoCDAppUpdate{updates[0], updates[2], missing},
			want: kargoapi.Health{Status: kargoapi.HealthStateUnknown, Issues: []string{
				"Application " + apps + "/held is syncing",
				"Application " + apps + "/missing not found",
			}},
		},
		{
			name:    "wrong revision is Unhealthy",
			updates: []kargoapi.ArgoCDAppUpdate{updates[0], updates[3]},
			want: kargoapi.Health{Status: kargoapi.HealthStateUnhealthy, Issues: []string{
				"Application " + apps + "/wrong is synced to " + pushedID + ", not the promoted " + commitID,
			}},
		},
		{
			name:    "all together",
			updates: append(updates, missing),
			want: kargoapi.Health{Status: kargoapi.HealthStateUnhealthy, Issues: []string{
				"Application " + apps + "/degraded is Degraded: Deployment guestbook has 0/3 ready replicas",
				"Application " + apps + "/held is syncing",
				"Application " + apps + "/missing not found",
				"Application " + apps + "/wrong is synced to " + pushedID + ", not the promoted " + commitID,
			}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			waitHealth(t, project, apps, tc.updates, tc.want)
		})
	}
}

func TestHealthFollowsASync(t *testing.T) {
	project, apps := newNamespace(t, "project"), newNamespace(t, "apps")
	sim := &argocdsim.Sim{Client: env.Admin, Namespace: apps}
	sim.SetBehaviour(apps, "guestbook", argocdsim.Behaviour{Hold: true})
	// Before the sim runs, the sync kargo asked for is still waiting.
	updates := promoteTo(t, project, apps, "guestbook")
	require.Equal(t, kargoapi.Health{Status: kargoapi.HealthStateProgressing, Issues: []string{
		"Application " + apps + "/guestbook has a sync waiting for Argo CD",
	}}, kargoargocd.Health(context.Background(), env.Admin, newStage(project, updates...), apps))

	sim.Start(t)
	waitHealth(t, project, apps, updates, kargoapi.Health{Status: kargoapi.HealthStateProgressing, Issues: []string{
		"Application " + apps + "/guestbook is syncing",
	}})

	sim.SetBehaviour(apps, "guestbook", argocdsim.Behaviour{})
	waitHealth(t, project, apps, updates, kargoapi.Health{Status: kargoapi.HealthStateHealthy})
	app := getApp(t, apps, "guestbook")
	require.Equal(t, commitID, app.Status.Sync.Revision)
	require.NotContains(t, app.Annotations, kargoargocd.RefreshAnnotationKey, "the simulated Argo CD refreshed it")

	sim.SetBehaviour(apps, "guestbook", argocdsim.Behaviour{Health: argocdv1.HealthStatusMissing})
	waitHealth(t, project, apps, updates, kargoapi.Health{Status: kargoapi.HealthStateUnhealthy, Issues: []string{
		"Application " + apps + "/guestbook is Missing",
	}})
}
