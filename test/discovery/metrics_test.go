package discovery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/metricstest"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// The discovery metrics follow what the Warehouses did: how long each
// discovery took, how many artifacts each found, the Freight created and
// the failures by source kind; a deleted Warehouse's gauges go away.
func TestDiscoveryMetrics(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "metrics")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	for _, tag := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		reg.PushImage(t, "app", tag, registry.Image{})
	}
	gs := gitserver.New(t, gitserver.WithBasicAuth("kargo", "right"))
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("private")
	gs.Commit(t, "private", "main", map[string]string{"a": "1"}, "one")
	require.NoError(t, env.Admin.Create(ctx, gitSecret(ns, "private-git", gs.RepoURL("private"), "kargo", "wrong")))

	good := &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(reg.Host() + "/app")}},
		}},
	}
	bad := &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(gs.RepoURL("private"))}},
		}},
	}
	require.Zero(t, metricstest.Value(t, "kargo_discovery_errors_total", map[string]string{"project": ns}))
	require.NoError(t, env.Admin.Create(ctx, good))
	require.NoError(t, env.Admin.Create(ctx, bad))

	goodLabels := map[string]string{"project": ns, "kind": "Warehouse", "name": "good"}
	eventually(t, time.Minute, "Freight of good counted", func() (bool, string) {
		n := metricstest.Value(t, "kargo_freight_created_total", goodLabels)
		return n == 1 && len(freightOf(t, ns, "good")) == 1, fmt.Sprintf("%v created, %d Freight", n, len(freightOf(t, ns, "good")))
	})
	require.GreaterOrEqual(t, metricstest.Value(t, "kargo_discovery_duration_seconds", goodLabels), 1.0)
	artifacts := map[string]string{"project": ns, "kind": "Warehouse", "name": "good", "source": "image"}
	require.Equal(t, 3.0, metricstest.Value(t, "kargo_discovery_artifacts", artifacts))
	eventually(t, time.Minute, "the wrong password counted as a git error", func() (bool, string) {
		git := metricstest.Value(t, "kargo_discovery_errors_total", map[string]string{"project": ns, "source": "git"})
		return git >= 1, fmt.Sprintf("%v git errors", git)
	})
	require.Zero(t, metricstest.Value(t, "kargo_discovery_errors_total", map[string]string{"project": ns, "source": "image"}))
	require.Zero(t, metricstest.Value(t, "kargo_freight_created_total", map[string]string{"project": ns, "name": "bad"}))

	// A new tag and a refresh: the gauge follows, one more Freight.
	reg.PushImage(t, "app", "1.3.0", registry.Image{})
	refresh(t, good)
	eventually(t, time.Minute, "the new tag counted", func() (bool, string) {
		n := metricstest.Value(t, "kargo_discovery_artifacts", artifacts)
		c := metricstest.Value(t, "kargo_freight_created_total", goodLabels)
		return n == 4 && c == 2, fmt.Sprintf("%v artifacts, %v Freight created", n, c)
	})

	require.NoError(t, env.Admin.Delete(ctx, good))
	eventually(t, time.Minute, "the deleted Warehouse's gauges gone", func() (bool, string) {
		_, found := metricstest.Find(t, "kargo_discovery_artifacts", artifacts)
		return !found, "still reported"
	})
}
