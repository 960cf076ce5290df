package schema

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func clientKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// header returns the first line of kubectl's table, with runs of spaces
// collapsed.
func header(out string) string {
	return strings.Join(strings.Fields(strings.SplitN(out, "\n", 2)[0]), " ")
}

// kubectl prints the columns the seed pages and the README promise.
func TestKubectlColumns(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "columns")

	freight := &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766",
			Namespace: ns,
			Labels:    map[string]string{kargoapi.AliasLabelKey: "mortal-dragonfly"},
		},
		Alias:  "mortal-dragonfly",
		Origin: &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "kargo-demo"},
		Images: []kargoapi.Image{{RepoURL: "nginx", Tag: "1.24.0"}},
	}
	require.NoError(t, env.Admin.Create(ctx, freight))
	out, err := env.Kubectl("get", "freight", "--namespace", ns)
	require.NoError(t, err, out)
	require.Equal(t, "NAME ALIAS AGE", header(out))
	require.Regexp(t, `(?m)^f5f87aa23c9e97f43eb83dd63768ee41f5ba3766\s+mortal-dragonfly\s+\d+s$`, out)

	stage := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "kargo-demo"}},
	}
	require.NoError(t, env.Admin.Create(ctx, stage))
	stage.Status = kargoapi.StageStatus{
		Phase:          kargoapi.StagePhaseSteady,
		CurrentFreight: &kargoapi.SimpleFreight{ID: freight.Name, Alias: freight.Alias},
		Health:         &kargoapi.Health{Status: kargoapi.HealthStateHealthy},
	}
	require.NoError(t, env.Admin.Status().Update(ctx, stage))
	out, err = env.Kubectl("get", "stages", "--namespace", ns)
	require.NoError(t, err, out)
	require.Equal(t, "NAME CURRENT FREIGHT HEALTH PHASE HELD BY AGE", header(out))
	require.Regexp(t, `(?m)^test\s+mortal-dragonfly\s+Healthy\s+Steady\s+\d+s$`, out)

	promo := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: "test-to-" + freight.Name, Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: freight.Name},
	}
	require.NoError(t, env.Admin.Create(ctx, promo))
	promo.Status.Phase = kargoapi.PromotionPhaseRunning
	require.NoError(t, env.Admin.Status().Update(ctx, promo))
	out, err = env.Kubectl("get", "promo", "--namespace", ns)
	require.NoError(t, err, out)
	require.Equal(t, "NAME STAGE FREIGHT PHASE AGE", header(out))
	require.Regexp(t, `(?m)^test-to-f5f8\S+\s+test\s+f5f87aa23c9e97f43eb83dd63768ee41f5ba3766\s+Running\s+\d+s$`, out)
}

// Freight artifacts and Promotion specs cannot be changed once created.
func TestImmutableFields(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "immutable")
	freight := &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: freightName, Namespace: ns},
		Images:     []kargoapi.Image{{RepoURL: "nginx", Tag: "1.24.0"}},
	}
	require.NoError(t, env.Admin.Create(ctx, freight))
	freight.Images[0].Tag = "1.25.0"
	err := env.Admin.Update(ctx, freight)
	require.Error(t, err)
	require.Contains(t, err.Error(), "images are immutable")

	// The alias may change.
	require.NoError(t, env.Admin.Get(ctx, clientKey(ns, freightName), freight))
	freight.Alias = "frozen-tauntaun"
	require.NoError(t, env.Admin.Update(ctx, freight))

	promo := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: freightName},
	}
	require.NoError(t, env.Admin.Create(ctx, promo))
	promo.Spec.Stage = "prod"
	err = env.Admin.Update(ctx, promo)
	require.Error(t, err)
	require.Contains(t, err.Error(), "spec is immutable; create a new Promotion instead")
}
