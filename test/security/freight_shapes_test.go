package security

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// freightShapesWarehouse is Warehouse name of ns with subscriptions given
// as raw JSON, in whichever shape, exactly as a client would send it.
func freightShapesWarehouse(ns, name string, subscriptions any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kargoapi.GroupVersion.String(), "kind": "Warehouse",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     map[string]any{"subscriptions": subscriptions},
	}}
	return u
}

func freightShapesImages(t *testing.T, ns, name string) []kargoapi.ImageSubscription {
	t.Helper()
	wh := &kargoapi.Warehouse{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, wh))
	return wh.Spec.Subscriptions.Images
}

// The list form of a Warehouse's subscriptions (Kargo v0.4–v0.6) is no way
// around the Warehouse webhook: carol, who may edit Warehouses but not
// promote into test, cannot use it to change, or create, the Warehouse
// test auto-promotes from; nor can anyone slip past the subscription
// rules in an entry the list form holds.
func TestWarehouseListFormKeepsPromoteChecks(t *testing.T) {
	ctx := context.Background()
	ns := admissionProject(t, "shapes")
	original := []any{map[string]any{"image": map[string]any{"repoURL": "registry.invalid/team/app"}}}
	require.NoError(t, env.Admin.Create(ctx, freightShapesWarehouse(ns, "w", original)))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}},
	}))
	carol := env.As(t, kubetest.Carol)
	carolsImage := []any{map[string]any{"image": map[string]any{"repoURL": "registry.invalid/carol/app"}}}

	t.Run("carol rewrites w's subscriptions in the list form with her image", func(t *testing.T) {
		patch := `{"spec":{"subscriptions":[{"image":{"repoURL":"registry.invalid/carol/app"}}]}}`
		err := carol.Patch(ctx, freightShapesWarehouse(ns, "w", nil), client.RawPatch("application/merge-patch+json", []byte(patch)))
		admissionRefused(t, err, http.StatusForbidden, `Stage "test" subscribes to Warehouse "w"`, `may not promote to Stage "test"`)
		require.Equal(t, kargoapi.ImageRepoURL("registry.invalid/team/app"), freightShapesImages(t, ns, "w")[0].RepoURL)
	})
	t.Run("carol adds an entry holding both an image and a git repository", func(t *testing.T) {
		patch := `{"spec":{"subscriptions":[{"image":{"repoURL":"registry.invalid/team/app"},"git":{"repoURL":"https://git.invalid/carol.git"}}]}}`
		err := carol.Patch(ctx, freightShapesWarehouse(ns, "w", nil), client.RawPatch("application/merge-patch+json", []byte(patch)))
		admissionRefused(t, err, http.StatusUnprocessableEntity, "exactly one of git, image or chart")
		require.Len(t, freightShapesImages(t, ns, "w"), 1)
	})
	t.Run("carol hides a field the rules do not know in an entry", func(t *testing.T) {
		patch := `{"spec":{"subscriptions":[{"image":{"repoURL":"registry.invalid/team/app","credentials":"carol:pw"}}]}}`
		err := carol.Patch(ctx, freightShapesWarehouse(ns, "w", nil), client.RawPatch("application/merge-patch+json", []byte(patch)))
		admissionRefused(t, err, http.StatusUnprocessableEntity, `unknown field "credentials"`)
	})
	t.Run("carol deletes w and creates it again in the list form", func(t *testing.T) {
		require.NoError(t, carol.Delete(ctx, freightShapesWarehouse(ns, "w", nil)))
		err := carol.Create(ctx, freightShapesWarehouse(ns, "w", carolsImage))
		admissionRefused(t, err, http.StatusForbidden, `Stage "test" subscribes to Warehouse "w"`)
		err = env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "w"}, &kargoapi.Warehouse{})
		require.Error(t, err, "nothing was created")
	})
	t.Run("carol writes the same subscriptions in the other shape", func(t *testing.T) {
		require.NoError(t, env.Admin.Create(ctx, freightShapesWarehouse(ns, "w", original)))
		patch := `{"spec":{"subscriptions":{"images":[{"repoURL":"registry.invalid/team/app"}]}}}`
		require.NoError(t, carol.Patch(ctx, freightShapesWarehouse(ns, "w", nil), client.RawPatch("application/merge-patch+json", []byte(patch))),
			"the same subscriptions in the other shape are no change to what test receives")
		require.Equal(t, kargoapi.ImageRepoURL("registry.invalid/team/app"), freightShapesImages(t, ns, "w")[0].RepoURL)
	})
	t.Run("a credential in a list entry's repoURL is refused as in the object form", func(t *testing.T) {
		err := env.Admin.Create(ctx, freightShapesWarehouse(ns, "leaky", []any{map[string]any{"git": map[string]any{"repoURL": "https://user:pw@git.invalid/app.git"}}}))
		admissionRefused(t, err, http.StatusUnprocessableEntity, "spec.subscriptions.git[0].repoURL", "must not hold credentials")
	})
}

// Freight for a Warehouse whose freightCreationPolicy is Manual is made
// only of what it discovered, whoever sends it and however: carol (who may
// create Freight) cannot put her own digest behind a discovered tag, or an
// image it never saw, straight through the Kubernetes API.
func TestManualFreightOnlyFromDiscoveredArtifacts(t *testing.T) {
	ctx := context.Background()
	ns := admissionProject(t, "manual")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	digest := reg.PushImage(t, "app", "1.0.0", registry.Image{})
	image := reg.Host() + "/app"
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{
			FreightCreationPolicy: kargoapi.FreightCreationManual,
			Subscriptions:         kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image)}}},
		},
	}))
	kubetest.Eventually(t, time.Minute, "1.0.0 discovered", func() (bool, string) {
		wh := &kargoapi.Warehouse{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "manual"}, wh))
		return wh.Status.DiscoveredArtifacts != nil && len(wh.Status.DiscoveredArtifacts.Images) == 1, fmt.Sprintf("%+v", wh.Status)
	})
	carol := env.As(t, kubetest.Carol)
	origin := &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "manual"}
	for name, img := range map[string]kargoapi.Image{
		"her digest behind the discovered tag": {RepoURL: image, Tag: "1.0.0", Digest: "sha256:" + strings.Repeat("c", 64)},
		"an image never discovered":            {RepoURL: "registry.invalid/carol/app", Tag: "1.0.0", Digest: digest},
	} {
		t.Run(name, func(t *testing.T) {
			f := &kargoapi.Freight{Origin: origin, Images: []kargoapi.Image{img}}
			f.Name, f.Namespace = freight.FingerprintOf(f), ns
			err := carol.Create(ctx, f)
			admissionRefused(t, err, http.StatusForbidden, `Freight for Warehouse "manual" (freightCreationPolicy Manual) may only use artifacts it discovered`)
			require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKeyFromObject(f), &kargoapi.Freight{})), "nothing was written")
		})
	}
	ok := &kargoapi.Freight{Origin: origin, Images: []kargoapi.Image{{RepoURL: image, Tag: "1.0.0", Digest: digest}}}
	ok.Name, ok.Namespace = freight.FingerprintOf(ok), ns
	require.NoError(t, carol.Create(ctx, ok), "the discovered image itself is fine")
}
