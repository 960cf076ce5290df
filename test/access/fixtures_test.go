package access

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// The seed pages' project, and the users of the access table beyond the
// seed's alice and bob.
const (
	demo  = "kargo-demo"
	carol = kubetest.Carol
	vera  = kubetest.Vera
	adam  = kubetest.Adam
)

var demoOnce sync.Once

// kargoDemo creates the kargo-demo project with the seed's bindings for
// alice and bob (applied unchanged with kubectl) and the bindings for the
// other users, once per package.
func kargoDemo(t *testing.T) {
	t.Helper()
	demoOnce.Do(func() {
		ctx := context.Background()
		project := &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: demo}}
		require.NoError(t, env.Admin.Create(ctx, project))
		kubetest.Eventually(t, 30*time.Second, "the Project creates namespace "+demo, func() (bool, string) {
			ns := &corev1.Namespace{}
			err := env.Admin.Get(ctx, client.ObjectKey{Name: demo}, ns)
			return err == nil && ns.Labels[kargoapi.ProjectLabelKey] == "true", fmt.Sprint(err, ns.Labels)
		})
		env.SeedRBAC(t)
		env.BindAccessUsers(t, demo)
	})
}

// gitops is the GitOps repository the table's Stages write to; nothing is
// ever pushed there.
const gitops = "https://git.example.com/gitops.git"

func warehouse(name string) *kargoapi.Warehouse {
	return &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: demo},
		Spec: kargoapi.WarehouseSpec{
			Interval:      &metav1.Duration{Duration: time.Hour},
			Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: "registry.invalid/app"}}},
		},
	}
}

func stage(name string) *kargoapi.Stage {
	return &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: demo},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}},
	}
}

// newFreight returns Freight for one image tag, named after its artifacts.
func newFreight(ns, tag string) *kargoapi.Freight {
	images := []kargoapi.Image{{RepoURL: "registry.example.com/app", Tag: tag, Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(tag)))}}
	return &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}, nil, images, nil), Namespace: ns},
		Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"},
		Images:     images,
	}
}

func policy(name, stage string) *kargoapi.PromotionPolicy {
	return &kargoapi.PromotionPolicy{
		ObjectMeta:          metav1.ObjectMeta{Name: name, Namespace: demo},
		Stage:               stage,
		EnableAutoPromotion: false,
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	err := env.Admin.Create(context.Background(), obj)
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
}
