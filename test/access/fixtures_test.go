package access

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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
	demo = "kargo-demo"
	// carol may create and edit everything in the project but holds no
	// promote verb: the user the seed warns about.
	carol = "carol"
	// vera may look at everything and change nothing.
	vera = "vera"
	// adam administers the project with the shipped kargo-admin role.
	adam = "adam"
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
		root, err := kubetest.RepoRoot()
		require.NoError(t, err)
		for _, f := range []string{"concepts-07-rolebinding-alice-promoter.yaml", "concepts-08-role-and-rolebinding-bob-uat-promoter.yaml"} {
			out, err := env.Kubectl("apply", "-f", filepath.Join(root, "config", "samples", "seeds", f))
			require.NoError(t, err, out)
		}
		editor := &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "pipeline-editor", Namespace: demo},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{kargoapi.GroupVersion.Group},
				Resources: []string{"freights", "promotionpolicies", "promotions", "stages", "warehouses"},
				Verbs:     []string{"create", "delete", "get", "list", "patch", "update", "watch"},
			}},
		}
		require.NoError(t, env.Admin.Create(ctx, editor))
		bind(t, carol, "Role", editor.Name)
		bind(t, vera, "ClusterRole", "kargo-viewer")
		bind(t, adam, "ClusterRole", "kargo-admin")
	})
}

func bind(t *testing.T, user, kind, role string) {
	t.Helper()
	require.NoError(t, env.Admin.Create(context.Background(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-" + role, Namespace: demo},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}))
}

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
		ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(nil, images, nil), Namespace: ns},
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
