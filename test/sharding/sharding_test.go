// Package sharding tests several kargo controller sets on one API server,
// each owning the projects its --shard-selector selects (internal/shard):
// a default set that serves the admission webhooks and owns what no named
// set claims, and the named sets a and b. Each set runs as a user of its
// own, so the Freight's createdBy (stamped by the webhook from the request)
// says which set reconciled a Warehouse.
package sharding

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/manager"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
	"github.com/kargohq/kargo/internal/webhook"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

// The users the three sets run as.
const (
	defaultSet = "kargo-default-set"
	setA       = "kargo-set-a"
	setB       = "kargo-set-b"
)

// Labels the sets select by: a by shard-a, b by shard-b.
const (
	labelA = "test.kargo.akuity.io/shard-a"
	labelB = "test.kargo.akuity.io/shard-b"
)

func TestShardsReconcileOnlyTheirProjects(t *testing.T) {
	ctx := context.Background()
	controllers.StartSet(t, env, defaultSet, manager.Options{
		Webhooks: &webhook.Options{Addr: "127.0.0.1:0", Namespace: install.Namespace},
	})
	controllers.StartSet(t, env, setA, manager.Options{ShardName: "a", ShardSelector: labelA + "=true"})
	controllers.StartSet(t, env, setB, manager.Options{ShardName: "b", ShardSelector: labelB + "=true"})

	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "app", "1.0.0", registry.Image{})

	projects := map[string]map[string]string{
		"shard-a":    {labelA: "true"},
		"shard-b":    {labelB: "true"},
		"shard-both": {labelA: "true", labelB: "true"},
		"shard-none": {},
	}
	for name, labels := range projects {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}))
	}
	claimOf := func(name string) (string, kargoapi.ProjectPhase) {
		p := &kargoapi.Project{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: name}, p))
		return p.Status.Shard, p.Status.Phase
	}
	// Every project is Ready (its namespace made by its owner), each
	// claimed by the set that selects it; the one both select by exactly
	// one of them; the one neither selects by nobody, so the default set
	// owns it.
	var both string
	kubetest.Eventually(t, time.Minute, "projects claimed and ready", func() (bool, string) {
		state := ""
		ok := true
		for name := range projects {
			claim, phase := claimOf(name)
			state += fmt.Sprintf("%s: %q %s; ", name, claim, phase)
			ok = ok && phase == kargoapi.ProjectPhaseReady
		}
		a, _ := claimOf("shard-a")
		b, _ := claimOf("shard-b")
		none, _ := claimOf("shard-none")
		both, _ = claimOf("shard-both")
		return ok && a == "a" && b == "b" && none == "" && (both == "a" || both == "b"), state
	})
	t.Logf("the project both sets select went to %s", both)

	// Each project's Warehouse is reconciled by its owner alone: the
	// Freight's creator is the owner's user.
	for name := range projects {
		require.NoError(t, env.Admin.Create(ctx, imageWarehouse(name, reg.Host())))
	}
	want := map[string]string{"shard-a": setA, "shard-b": setB, "shard-none": defaultSet, "shard-both": map[string]string{"a": setA, "b": setB}[both]}
	for name, user := range want {
		requireFreightBy(t, name, "1.0.0", user)
	}
	// The claim of the project both select does not move however often
	// the other set looks at it.
	claim, _ := claimOf("shard-both")
	require.Equal(t, both, claim)

	// Relabelled from a to b: a gives the project up, b claims it and
	// reconciles its objects from then on.
	p := &kargoapi.Project{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: "shard-a"}, p))
	p.Labels = map[string]string{labelB: "true"}
	require.NoError(t, env.Admin.Update(ctx, p))
	kubetest.Eventually(t, time.Minute, "shard-a handed over to b", func() (bool, string) {
		claim, _ := claimOf("shard-a")
		return claim == "b", claim
	})
	// Labels removed: b gives it up and the default set takes it.
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: "shard-b"}, p))
	p.Labels = nil
	require.NoError(t, env.Admin.Update(ctx, p))
	kubetest.Eventually(t, time.Minute, "shard-b given up", func() (bool, string) {
		claim, _ := claimOf("shard-b")
		return claim == "", claim
	})
	reg.PushImage(t, "app", "1.1.0", registry.Image{})
	for _, name := range []string{"shard-a", "shard-b"} {
		wh := &kargoapi.Warehouse{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: name, Name: "w"}, wh))
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, kargoapi.RefreshAnnotationKey, time.Now().UTC().Format(time.RFC3339Nano))
		require.NoError(t, env.Admin.Patch(ctx, wh, client.RawPatch("application/merge-patch+json", []byte(patch))))
	}
	requireFreightBy(t, "shard-a", "1.1.0", setB)
	requireFreightBy(t, "shard-b", "1.1.0", defaultSet)
}

func imageWarehouse(ns, host string) *kargoapi.Warehouse {
	return &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(host + "/app")}},
		}},
	}
}

// requireFreightBy waits for the Freight of tag in project and checks that
// user created it.
func requireFreightBy(t *testing.T, project, tag, user string) {
	t.Helper()
	var f *kargoapi.Freight
	kubetest.Eventually(t, time.Minute, "Freight of "+tag+" in "+project, func() (bool, string) {
		list := &kargoapi.FreightList{}
		require.NoError(t, env.Admin.List(context.Background(), list, client.InNamespace(project)))
		for i := range list.Items {
			if len(list.Items[i].Images) == 1 && list.Items[i].Images[0].Tag == tag {
				f = &list.Items[i]
				return true, ""
			}
		}
		ns := &corev1.Namespace{}
		err := env.Admin.Get(context.Background(), client.ObjectKey{Name: project}, ns)
		return false, fmt.Sprintf("%d Freight; namespace: %v", len(list.Items), err)
	})
	require.NotNil(t, f.CreatedBy)
	require.Equal(t, user, f.CreatedBy.Username, "the set that reconciled project %s's Warehouse", project)
}
