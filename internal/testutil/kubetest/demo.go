package kubetest

import (
	"context"
	"path/filepath"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// The users of the access model beyond the seed's alice and bob (each has a
// bearer token, see Token).
const (
	// Carol may create and edit everything in the project but holds no
	// promote verb: the user the seed warns about.
	Carol = "carol"
	// Vera may look at everything and change nothing (kargo-viewer).
	Vera = "vera"
	// Adam administers the project (kargo-admin).
	Adam = "adam"
)

// SeedRBAC applies the seed pages' RoleBinding for alice and Role and
// RoleBinding for bob, unchanged, with kubectl. The namespace they name,
// kargo-demo, must exist.
func (e *Env) SeedRBAC(t testing.TB) {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"concepts-07-rolebinding-alice-promoter.yaml", "concepts-08-role-and-rolebinding-bob-uat-promoter.yaml"} {
		if out, err := e.Kubectl("apply", "-f", filepath.Join(root, "config", "samples", "seeds", f)); err != nil {
			t.Fatalf("apply %s: %v\n%s", f, err, out)
		}
	}
}

// BindAccessUsers gives carol, vera and adam their rights in namespace:
// carol a Role with every verb on every kargo kind but promote, vera the
// kargo-viewer role, adam the kargo-admin role.
func (e *Env) BindAccessUsers(t testing.TB, namespace string) {
	t.Helper()
	editor := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pipeline-editor", Namespace: namespace},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{kargoapi.GroupVersion.Group},
			Resources: []string{"freights", "promotionpolicies", "promotions", "stages", "warehouses"},
			Verbs:     []string{"create", "delete", "get", "list", "patch", "update", "watch"},
		}},
	}
	if err := e.Admin.Create(context.Background(), editor); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create Role %s: %v", editor.Name, err)
	}
	e.Bind(t, namespace, Carol, "Role", editor.Name)
	e.Bind(t, namespace, Vera, "ClusterRole", "kargo-viewer")
	e.Bind(t, namespace, Adam, "ClusterRole", "kargo-admin")
}
