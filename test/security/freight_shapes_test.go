package security

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
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
