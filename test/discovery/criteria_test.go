package discovery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// A Warehouse whose freightCreationCriteria leave out a release that was
// pulled (1.1.0) makes no Freight of it, says so, and makes Freight of the
// next; an expression that does not compile is refused when the Warehouse
// is written.
func TestCreationCriteriaFilterFreight(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "criteria")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "app", "1.0.0", registry.Image{})
	wh := &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "releases", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{
			FreightCreationCriteria: &kargoapi.FreightCreationCriteria{Expression: "images.all(i, i.tag != '1.1.0')"},
			Subscriptions:           kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(reg.Host() + "/app")}}},
		},
	}
	require.NoError(t, env.Admin.Create(ctx, wh))
	eventually(t, time.Minute, "1.0.0's Freight", func() (bool, string) {
		fs := freightOf(t, ns, "releases")
		return len(fs) == 1, fmt.Sprintf("%d Freight", len(fs))
	})

	reg.PushImage(t, "app", "1.1.0", registry.Image{})
	refresh(t, wh)
	eventually(t, time.Minute, "1.1.0 left out", func() (bool, string) {
		got := &kargoapi.Warehouse{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(wh), got))
		ready := meta.FindStatusCondition(got.Status.Conditions, kargoapi.ConditionReady)
		return ready != nil && ready.Reason == kargoapi.ReasonCriteriaNotMet, fmt.Sprintf("%+v", ready)
	})
	require.Len(t, freightOf(t, ns, "releases"), 1)

	reg.PushImage(t, "app", "1.1.1", registry.Image{})
	refresh(t, wh)
	eventually(t, time.Minute, "1.1.1's Freight", func() (bool, string) {
		for _, f := range freightOf(t, ns, "releases") {
			if f.Images[0].Tag == "1.1.1" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d Freight", len(freightOf(t, ns, "releases")))
	})

	bad := wh.DeepCopy()
	bad.ResourceVersion, bad.Name = "", "broken"
	bad.Spec.FreightCreationCriteria.Expression = "images.all(i, "
	err := env.Admin.Create(ctx, bad)
	require.ErrorContains(t, err, "spec.freightCreationCriteria.expression: freightCreationCriteria.expression does not compile")
}
