// Package install installs or upgrades what kargo needs on an API server:
// its CustomResourceDefinitions and its pre-defined ClusterRoles. kargo local
// and the integration tests use it, so both run against what a cluster
// install provides.
package install

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/config/crd"
	"github.com/kargohq/kargo/config/rbac"
)

// Namespace is where kargo's own objects live, such as the Secret with the
// admission webhooks' certificate.
const Namespace = "kargo"

// FieldManager is the server-side apply field manager that owns what kargo
// installs.
const FieldManager = "kargo"

// All installs or upgrades kargo's namespace, the CRDs and the pre-defined
// ClusterRoles, and waits up to timeout for the CRDs to be served.
func All(ctx context.Context, c client.Client, timeout time.Duration) error {
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: Namespace, Labels: map[string]string{"app.kubernetes.io/part-of": "kargo"}},
	}
	if err := apply(ctx, c, ns); err != nil {
		return fmt.Errorf("apply namespace %s: %w", Namespace, err)
	}
	crds, err := crd.Definitions()
	if err != nil {
		return err
	}
	if err := CRDs(ctx, c, crds, timeout); err != nil {
		return err
	}
	roles, err := rbac.ClusterRoles()
	if err != nil {
		return err
	}
	for _, role := range roles {
		obj := role.DeepCopy()
		obj.APIVersion, obj.Kind = "rbac.authorization.k8s.io/v1", "ClusterRole"
		if err := apply(ctx, c, obj); err != nil {
			return fmt.Errorf("apply ClusterRole %s: %w", role.Name, err)
		}
	}
	return nil
}

// apply creates or updates obj with server-side apply, taking ownership of
// every field it sets, so that a newer binary upgrades what an older one
// installed.
func apply(ctx context.Context, c client.Client, obj client.Object) error {
	obj.SetResourceVersion("")
	obj.SetManagedFields(nil)
	//nolint:staticcheck // Patch with Apply works on typed objects, which the newer Apply method does not take.
	return c.Patch(ctx, obj, client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager))
}
