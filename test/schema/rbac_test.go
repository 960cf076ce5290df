package schema

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// ensureKargoDemo creates the seed pages' project namespace, once.
func ensureKargoDemo(t *testing.T) {
	t.Helper()
	err := env.Admin.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   "kargo-demo",
		Labels: map[string]string{kargoapi.ProjectLabelKey: kargoapi.LabelTrueValue},
	}})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
}

// canPromote asks the API server, as the client's user, whether that user
// holds the virtual promote verb on a Stage.
func canPromote(t *testing.T, c client.Client, ns, stage string) bool {
	t.Helper()
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: "promote", Group: kargoapi.GroupVersion.Group, Resource: "stages", Name: stage,
		},
	}}
	require.NoError(t, c.Create(context.Background(), review))
	return review.Status.Allowed
}

// The seed's RoleBinding and Role, applied unchanged, give alice the promote
// verb on every Stage of kargo-demo and bob on uat only, as the real RBAC
// authorizer decides; a user with no binding gets nothing.
func TestSeedRBACGrantsThePromoteVerb(t *testing.T) {
	ensureKargoDemo(t)
	root, err := kubetest.RepoRoot()
	require.NoError(t, err)
	for _, f := range []string{"concepts-07-rolebinding-alice-promoter.yaml", "concepts-08-role-and-rolebinding-bob-uat-promoter.yaml"} {
		out, err := env.Kubectl("apply", "-f", filepath.Join(root, "config", "samples", "seeds", f))
		require.NoError(t, err, out)
	}

	alice, bob, nobody := env.As(t, kubetest.Alice), env.As(t, kubetest.Bob), env.As(t, kubetest.Nobody)
	for _, stage := range []string{"test", "uat", "prod"} {
		require.True(t, canPromote(t, alice, "kargo-demo", stage), "alice may promote to %s", stage)
		require.Equal(t, stage == "uat", canPromote(t, bob, "kargo-demo", stage), "bob may promote to uat only; asked about %s", stage)
		require.False(t, canPromote(t, nobody, "kargo-demo", stage))
	}

	// Plain RBAC on Promotions: bob may create them; a user with no
	// binding may not, and is told which verb and resource he lacks.
	promo := func(name string) *kargoapi.Promotion {
		return &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kargo-demo"},
			Spec:       kargoapi.PromotionSpec{Stage: "uat", Freight: freightName},
		}
	}
	require.NoError(t, bob.Create(context.Background(), promo("bob-uat")))
	err = nobody.Create(context.Background(), promo("nobody-uat"))
	require.True(t, apierrors.IsForbidden(err), "got %v", err)
	require.Contains(t, err.Error(), `User "nobody" cannot create resource "promotions"`)
}
