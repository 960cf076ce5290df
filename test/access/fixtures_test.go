package access

import (
	"context"
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

func create(t *testing.T, obj client.Object) {
	t.Helper()
	err := env.Admin.Create(context.Background(), obj)
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
}
