package cli

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// A Warehouse with freightCreationPolicy Manual discovers and creates no
// Freight; adam (kargo-admin: create on freights) assembles Freight from
// what it discovered with kargo create freight, and is refused, with what
// it discovered, for anything else, also when he bypasses the CLI's check
// with a manifest; alice (kargo-promoter) and nobody may not create
// Freight at all.
func TestCreateFreightFromDiscoveredArtifacts(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "manual")
	env.BindAccessUsers(t, ns)
	env.Bind(t, ns, kubetest.Alice, "ClusterRole", "kargo-promoter")
	env.Bind(t, ns, kubetest.Bob, "Role", "pipeline-editor")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "app", "1.0.0", registry.Image{})
	reg.PushImage(t, "app", "1.1.0", registry.Image{})
	image := reg.Host() + "/app"
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{
			FreightCreationPolicy: kargoapi.FreightCreationManual,
			Subscriptions:         kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image)}}},
		},
	}))
	wh := &kargoapi.Warehouse{}
	kubetest.Eventually(t, time.Minute, "artifacts discovered", func() (bool, string) {
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "manual"}, wh))
		d := wh.Status.DiscoveredArtifacts
		return d != nil && len(d.Images) == 2, fmt.Sprintf("%+v", wh.Status)
	})
	require.Equal(t, []string{"1.1.0", "1.0.0"}, []string{wh.Status.DiscoveredArtifacts.Images[0].Tag, wh.Status.DiscoveredArtifacts.Images[1].Tag}, "newest first")
	old := wh.Status.DiscoveredArtifacts.Images[1]
	want := &kargoapi.Freight{Origin: &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "manual"}, Images: []kargoapi.Image{old}}
	name := freight.FingerprintOf(want)
	newer := freight.FingerprintOf(&kargoapi.Freight{Origin: want.Origin, Images: wh.Status.DiscoveredArtifacts.Images[:1]})

	// A manifest naming an image the Warehouse never discovered, named
	// correctly, as someone bypassing the CLI would write it.
	forged := &kargoapi.Freight{
		TypeMeta: metav1.TypeMeta{APIVersion: kargoapi.GroupVersion.String(), Kind: "Freight"},
		Origin:   want.Origin,
		Images:   []kargoapi.Image{{RepoURL: image, Tag: "6.6.6", Digest: old.Digest}},
	}
	forged.Name, forged.Namespace = freight.FingerprintOf(forged), ns
	raw, err := yaml.Marshal(forged)
	require.NoError(t, err)

	s := newSession(t)
	s.masks = append(s.masks, [2]string{ns, "<project>"}, [2]string{name, "<freight>"}, [2]string{newer, "<freight-1.1.0>"}, [2]string{forged.Name, "<forged>"},
		[2]string{reg.Host(), "<registry>"}, [2]string{old.Digest, "<digest-1.0.0>"}, [2]string{wh.Status.DiscoveredArtifacts.Images[0].Digest, "<digest-1.1.0>"})
	require.NoError(t, os.WriteFile("forged.yaml", raw, 0o600))

	s.note("The Warehouse discovered 1.1.0 and 1.0.0 and, being Manual, created no Freight; adam (kargo-admin) makes Freight of 1.0.0.")
	s.login("adam")
	r := s.run("kargo create freight --project " + ns + " --warehouse manual --image " + image + ":1.0.0 --alias first-pick")
	require.Equal(t, 0, r.code, r.stderr)
	s.note("An image the Warehouse did not discover is refused, saying what it did discover.")
	s.run("kargo create freight --project " + ns + " --warehouse manual --image " + image + ":6.6.6")
	s.note("So is a manifest that names one, which the CLI never checked: kargo's Freight webhook refuses it.")
	s.run("kargo create -f forged.yaml")
	s.note("bob edits the pipeline (create on freights, no promote): he may make Freight too, and promote it nowhere.")
	s.login("bob")
	s.run("kargo create freight --project " + ns + " --warehouse manual --image " + image + ":1.1.0")
	s.run("kargo promote --project " + ns + " --freight " + newer + " --stage test")
	s.note("alice may promote but not create Freight; nobody may do either.")
	s.login("alice")
	s.run("kargo create freight --project " + ns + " --warehouse manual --image " + image + ":1.1.0")
	s.login("nobody")
	s.run("kargo create freight --project " + ns + " --warehouse manual --image " + image + ":1.1.0")
	s.golden("create_freight")

	list := &kargoapi.FreightList{}
	require.NoError(t, env.Admin.List(ctx, list, client.InNamespace(ns)))
	require.Len(t, list.Items, 2, "only adam's and bob's Freight exist")
	byName := map[string]kargoapi.Freight{list.Items[0].Name: list.Items[0], list.Items[1].Name: list.Items[1]}
	require.Equal(t, &kargoapi.FreightCreator{Username: kubetest.Bob}, byName[newer].CreatedBy)
	got := byName[name]
	require.Equal(t, "first-pick", got.Alias)
	require.Equal(t, []kargoapi.Image{old}, got.Images)
	require.Equal(t, &kargoapi.FreightCreator{Username: kubetest.Adam}, got.CreatedBy, "created as adam, so never auto-promoted")
}
