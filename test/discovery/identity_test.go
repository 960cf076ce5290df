package discovery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// Two Warehouses whose newest artifacts are the same each produce their own
// Freight, named with their origin, so that each Warehouse's Stages get it.
func TestIdenticalArtifactsFromTwoWarehousesAreTwoFreight(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "twin")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "app", "1.0.0", registry.Image{})
	image := reg.Host() + "/app"
	for _, name := range []string{"front", "back"} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
				Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image)}},
			}},
		}))
	}
	for _, name := range []string{"front", "back"} {
		eventually(t, time.Minute, "Freight of "+name, func() (bool, string) {
			fs := freightOf(t, ns, name)
			return len(fs) == 1, fmt.Sprintf("%d Freight from %s", len(fs), name)
		})
		f := freightOf(t, ns, name)[0]
		require.Equal(t, &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: name}, f.Origin)
		require.Equal(t, freight.FingerprintOf(&f), f.Name)
		require.Equal(t, "1.0.0", f.Images[0].Tag)
	}
	require.NotEqual(t, freightOf(t, ns, "front")[0].Name, freightOf(t, ns, "back")[0].Name)
}

// A commit selected by tag is new Freight when it gets a new tag: a release
// candidate re-tagged as the release is the release, not the candidate.
func TestRetaggedCommitBecomesNewFreight(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "retag")
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("app")
	sha := gs.Commit(t, "app", "main", map[string]string{"a": "1"}, "release me")
	gs.Tag(t, "app", "v1.0.0-rc.1", sha)
	wh := &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "tags", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(gs.RepoURL("app")), CommitSelectionStrategy: kargoapi.CommitSelectionSemVer}},
		}},
	}
	require.NoError(t, env.Admin.Create(ctx, wh))
	eventually(t, time.Minute, "the rc's Freight", func() (bool, string) {
		fs := freightOf(t, ns, "tags")
		return len(fs) == 1 && fs[0].Commits[0].Tag == "v1.0.0-rc.1", fmt.Sprintf("%+v", fs)
	})

	gs.Tag(t, "app", "v1.0.0", sha)
	refresh(t, wh)
	eventually(t, time.Minute, "the release's Freight", func() (bool, string) {
		fs := freightOf(t, ns, "tags")
		for _, f := range fs {
			if f.Commits[0].Tag == "v1.0.0" {
				return f.Commits[0].ID == sha && f.Name == freight.FingerprintOf(&f), fmt.Sprintf("%+v", f)
			}
		}
		return false, fmt.Sprintf("%d Freight, none tagged v1.0.0", len(fs))
	})
	require.Len(t, freightOf(t, ns, "tags"), 2, "the rc's Freight stays")
}
