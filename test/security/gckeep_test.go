package security

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/gc"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

// A Project's kargo.akuity.io/keep-freight and keep-promotions annotations
// decide how much of its history garbage collection deletes. Projects are
// cluster-scoped: only whoever may update Projects cluster-wide (the
// cluster's administrators; no role kargo ships) may lower them, and even
// at the lowest setting nothing in use is deleted.
func TestGCKeepAnnotations(t *testing.T) {
	ctx := context.Background()
	const project = "sec-gckeep"
	env.CreateProject(t, project)
	env.Bind(t, project, kubetest.Alice, "ClusterRole", "kargo-admin")
	env.Bind(t, project, kubetest.Bob, "ClusterRole", "kargo-promoter")
	env.Bind(t, project, kubetest.Vera, "ClusterRole", "kargo-viewer")

	lower := func(c client.Client) error {
		p := &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: project}}
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"1",%q:"1"}}}`, kargoapi.KeepFreightAnnotationKey, kargoapi.KeepPromotionsAnnotationKey)
		return c.Patch(ctx, p, client.RawPatch("application/merge-patch+json", []byte(patch)))
	}
	requireUntouched := func(t *testing.T) {
		t.Helper()
		p := &kargoapi.Project{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: project}, p))
		require.NotContains(t, p.Annotations, kargoapi.KeepFreightAnnotationKey, "the attack wrote the annotation")
		require.NotContains(t, p.Annotations, kargoapi.KeepPromotionsAnnotationKey, "the attack wrote the annotation")
	}
	for _, tc := range []struct {
		attack string
		as     func(t *testing.T) client.Client
	}{
		{"the project's kargo-admin lowers the keep counts", func(t *testing.T) client.Client { return env.As(t, kubetest.Alice) }},
		{"a promoter of the project lowers them", func(t *testing.T) client.Client { return env.As(t, kubetest.Bob) }},
		{"a viewer of the project lowers them", func(t *testing.T) client.Client { return env.As(t, kubetest.Vera) }},
		{"a user of no project lowers them", func(t *testing.T) client.Client { return env.As(t, kubetest.Nobody) }},
		{"a ServiceAccount token bound to kargo-admin lowers them", func(t *testing.T) client.Client { return gcKeepServiceAccount(t, project, "ci") }},
	} {
		t.Run(tc.attack, func(t *testing.T) {
			err := lower(tc.as(t))
			require.True(t, apierrors.IsForbidden(err), "want Forbidden, got %v", err)
			requireUntouched(t)
		})
	}

	t.Run("the project's kargo-admin grants itself update on projects with a namespaced Role", func(t *testing.T) {
		alice := env.As(t, kubetest.Alice)
		role := &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "gckeep-projects", Namespace: project},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"projects"}, Verbs: []string{"update", "patch"}}},
		}
		if err := alice.Create(ctx, role); err == nil {
			require.NoError(t, alice.Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "gckeep-projects", Namespace: project},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: kubetest.Alice}},
			}))
		} else {
			require.True(t, apierrors.IsForbidden(err), "want the Role refused or harmless, got %v", err)
		}
		// A namespaced Role never reaches a cluster-scoped object.
		err := lower(alice)
		require.True(t, apierrors.IsForbidden(err), "want Forbidden, got %v", err)
		requireUntouched(t)
	})

	// The cluster's administrator sets the lowest counts there are; the
	// collector (as the controller, with its shipped role) still keeps
	// every Freight and Promotion in use.
	t.Run("keep=0 and keep=1 never delete what is in use", func(t *testing.T) {
		origin := &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}
		repo := "127.0.0.1:1/app" // nothing listens: the Warehouse discovers nothing
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: project},
			Spec: kargoapi.WarehouseSpec{
				Interval:      &metav1.Duration{Duration: time.Hour},
				Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(repo)}}},
			},
		}))
		for _, s := range []string{"test", "uat"} {
			require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
				ObjectMeta: metav1.ObjectMeta{Name: s, Namespace: project},
				Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}},
			}))
		}
		names := make([]string, 8)
		for i := range names {
			images := []kargoapi.Image{{RepoURL: repo, Tag: fmt.Sprintf("1.0.%d", i)}}
			names[i] = freight.Fingerprint(origin, nil, images, nil)
			require.NoError(t, env.Admin.Create(ctx, &kargoapi.Freight{
				ObjectMeta: metav1.ObjectMeta{Name: names[i], Namespace: project, Annotations: map[string]string{
					kargoapi.DiscoveredAtAnnotationKey: time.Unix(int64(1000+i), 0).UTC().Format(time.RFC3339Nano),
				}},
				Origin: origin,
				Images: images,
			}))
		}
		// In use: test's current Freight and the one before it (its
		// history), one approved for uat.
		gcKeepPromote(t, ctx, project, "test", names[1])
		gcKeepPromote(t, ctx, project, "test", names[2])
		approved := &kargoapi.Freight{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: names[3]}, approved))
		patch := client.MergeFrom(approved.DeepCopy())
		approved.Status.ApprovedFor = map[string]kargoapi.ApprovedStage{"uat": {}}
		require.NoError(t, env.Admin.Status().Patch(ctx, approved, patch))

		collector := &gc.Collector{Client: gcKeepController(t), Policy: gc.Policy{KeepFreight: gc.DefaultKeepFreight, KeepPromotions: gc.DefaultKeepPromotions}}
		setKeep := func(n string) {
			p := &kargoapi.Project{}
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: project}, p))
			patch := client.MergeFrom(p.DeepCopy())
			p.Annotations = map[string]string{kargoapi.KeepFreightAnnotationKey: n, kargoapi.KeepPromotionsAnnotationKey: n}
			require.NoError(t, env.Admin.Patch(ctx, p, patch))
		}
		collect := func() gc.Result {
			p := &kargoapi.Project{}
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: project}, p))
			r, err := collector.CollectProject(ctx, p)
			require.NoError(t, err)
			return r
		}
		remaining := func() map[string]bool {
			list := &kargoapi.FreightList{}
			require.NoError(t, env.Admin.List(ctx, list, client.InNamespace(project)))
			out := map[string]bool{}
			for _, f := range list.Items {
				out[f.Name] = true
			}
			return out
		}

		// 0 is not a count: the installation's default applies, nothing goes.
		setKeep("0")
		require.Equal(t, gc.Result{}, collect())
		require.Len(t, remaining(), len(names))

		// 1: the newest Freight and the three in use stay; of test's two
		// finished Promotions, the newer.
		setKeep("1")
		r := collect()
		require.Equal(t, map[string]bool{names[7]: true, names[1]: true, names[2]: true, names[3]: true}, remaining())
		require.Equal(t, 4, r.Freight)
		require.Equal(t, 1, r.Promotions)
		st := &kargoapi.Stage{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "test"}, st))
		require.Equal(t, names[2], st.Status.CurrentFreight.ID, "test's current Freight is untouched")
	})
}

// gcKeepServiceAccount returns a client that authenticates with a
// TokenRequest token of a new ServiceAccount of ns bound to kargo-admin.
func gcKeepServiceAccount(t *testing.T, ns, name string) client.Client {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	require.NoError(t, env.Admin.Create(ctx, sa))
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-kargo-admin", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}))
	env.AwaitBinding(t, ns, "system:serviceaccount:"+ns+":"+name, "ClusterRole", "kargo-admin")
	tr := &authenticationv1.TokenRequest{}
	require.NoError(t, env.Admin.SubResource("token").Create(ctx, sa, tr))
	cfg := &rest.Config{Host: env.Config.Host, BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: env.Config.CAData}}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	return c
}

// gcKeepController is a client with the controller's identity and rights,
// as the collector in the manager has.
func gcKeepController(t *testing.T) client.Client {
	t.Helper()
	cfg, err := env.UserConfig(controllers.ServiceAccount, "system:serviceaccounts", "system:serviceaccounts:"+install.Namespace, "system:authenticated")
	require.NoError(t, err)
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	return c
}

// gcKeepPromote promotes a Freight into a Stage as the cluster's
// administrator and waits until it succeeded.
func gcKeepPromote(t *testing.T, ctx context.Context, ns, stage, freightName string) {
	t.Helper()
	p := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{GenerateName: stage + "-", Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: freightName},
	}
	require.NoError(t, env.Admin.Create(ctx, p))
	kubetest.Eventually(t, time.Minute, "Promotion "+p.Name+" succeeded", func() (bool, string) {
		got := &kargoapi.Promotion{}
		if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == kargoapi.PromotionPhaseSucceeded, string(got.Status.Phase) + " " + got.Status.Message
	})
}
