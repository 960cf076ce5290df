package discovery

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/helmserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

func gitSecret(ns, name, url, user, password string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{kargoapi.CredentialTypeLabelKey: string(credentials.TypeGit)}},
		StringData: map[string]string{credentials.RepoURLKey: url, credentials.UsernameKey: user, credentials.PasswordKey: password},
	}
}

func freightOf(t testing.TB, ns string, origin string) []kargoapi.Freight {
	t.Helper()
	list := &kargoapi.FreightList{}
	require.NoError(t, env.Admin.List(context.Background(), list, client.InNamespace(ns)))
	var out []kargoapi.Freight
	for _, f := range list.Items {
		if f.Origin != nil && f.Origin.Name == origin {
			out = append(out, f)
		}
	}
	return out
}

func refresh(t *testing.T, obj client.Object) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, kargoapi.RefreshAnnotationKey, time.Now().UTC().Format(time.RFC3339Nano))
	require.NoError(t, env.Admin.Patch(context.Background(), obj, client.RawPatch("application/merge-patch+json", []byte(patch))))
}

// A Warehouse subscribed to a Git branch (with credentials), an image
// repository and a Helm chart produces one Freight for the newest of each,
// and new Freight when any of them moves on, keeping the old.
func TestWarehouseProducesFreightFromRealSources(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "wh")

	gs := gitserver.New(t, gitserver.WithBasicAuth("kargo", "s3cret"))
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("demo")
	head := gs.Commit(t, "demo", "main", map[string]string{"stages/test/kustomization.yaml": "images: []\n"}, "first")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "nginx", "1.24.0", registry.Image{})
	digest := reg.PushImage(t, "nginx", "1.25.0", registry.Image{})
	reg.PushImage(t, "nginx", "2.0.0", registry.Image{})
	charts := helmserver.New(t, helmserver.Options{})
	controllers.AllowOutbound(t, charts.Host())
	charts.SetCharts(helmserver.Chart{Name: "app", Version: "1.0.0"}, helmserver.Chart{Name: "app", Version: "1.1.0"})

	require.NoError(t, env.Admin.Create(ctx, gitSecret(ns, "demo-git", gs.RepoURL("demo"), "kargo", "s3cret")))
	image := reg.Host() + "/nginx"
	wh := &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Git:    []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(gs.RepoURL("demo")), Branch: "main"}},
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image), SemverConstraint: "^1.24.0"}},
			Charts: []kargoapi.ChartSubscription{{RepoURL: kargoapi.ChartRepoURL(charts.URL()), Name: "app"}},
		}},
	}
	require.NoError(t, env.Admin.Create(ctx, wh))

	var first kargoapi.Freight
	eventually(t, time.Minute, "first Freight", func() (bool, string) {
		fs := freightOf(t, ns, "demo")
		if len(fs) == 0 {
			got := &kargoapi.Warehouse{}
			_ = env.Admin.Get(ctx, client.ObjectKeyFromObject(wh), got)
			return false, fmt.Sprintf("no Freight; conditions %+v", got.Status.Conditions)
		}
		first = fs[0]
		return true, ""
	})
	require.Equal(t, []kargoapi.GitCommit{{RepoURL: gs.RepoURL("demo"), ID: head, Branch: "main", Message: "first", Author: first.Commits[0].Author}}, first.Commits)
	require.Equal(t, []kargoapi.Image{{RepoURL: image, Tag: "1.25.0", Digest: digest}}, first.Images)
	require.Equal(t, []kargoapi.Chart{{RepoURL: charts.URL(), Name: "app", Version: "1.1.0"}}, first.Charts)
	require.Equal(t, freight.FingerprintOf(&first), first.Name)
	require.NotEmpty(t, first.Alias)
	require.Equal(t, first.Alias, first.Labels[kargoapi.AliasLabelKey])
	require.Equal(t, &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "demo"}, first.Origin)

	eventually(t, 30*time.Second, "Warehouse ready", func() (bool, string) {
		got := &kargoapi.Warehouse{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(wh), got))
		ready := meta.FindStatusCondition(got.Status.Conditions, kargoapi.ConditionReady)
		return ready != nil && ready.Status == metav1.ConditionTrue && got.Status.LastFreight != nil && got.Status.LastFreight.Name == first.Name,
			fmt.Sprintf("%+v", got.Status)
	})

	// A new image and a new commit appear: a refresh produces one new Freight
	// with both, and the first Freight stays.
	newDigest := reg.PushImage(t, "nginx", "1.25.1", registry.Image{})
	newHead := gs.Commit(t, "demo", "main", map[string]string{"README.md": "hi\n"}, "second")
	refresh(t, wh)
	eventually(t, time.Minute, "second Freight", func() (bool, string) {
		fs := freightOf(t, ns, "demo")
		return len(fs) == 2, fmt.Sprintf("%d Freight", len(fs))
	})
	var second kargoapi.Freight
	for _, f := range freightOf(t, ns, "demo") {
		if f.Name != first.Name {
			second = f
		}
	}
	require.Equal(t, newHead, second.Commits[0].ID)
	require.Equal(t, "1.25.1", second.Images[0].Tag)
	require.Equal(t, newDigest, second.Images[0].Digest)
	require.NotEqual(t, first.Alias, second.Alias)
}

// A Warehouse with a wrong password says so, without the password, while a
// healthy Warehouse in the same project keeps producing Freight.
func TestBadWarehouseDoesNotStopOthers(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "faults")
	gs := gitserver.New(t, gitserver.WithBasicAuth("kargo", "right-password"))
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("private")
	gs.Commit(t, "private", "main", map[string]string{"a": "1"}, "one")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "app", "1.0.0", registry.Image{})

	require.NoError(t, env.Admin.Create(ctx, gitSecret(ns, "private-git", gs.RepoURL("private"), "kargo", "wrong-password")))
	bad := &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(gs.RepoURL("private"))}},
		}},
	}
	good := &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(reg.Host() + "/app")}},
		}},
	}
	noMatch := &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "no-match", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(reg.Host() + "/app"), SemverConstraint: "^9.0.0"}},
		}},
	}
	invalid := &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "invalid", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(reg.Host() + "/app"), AllowTags: "(["}},
		}},
	}
	for _, wh := range []*kargoapi.Warehouse{bad, good, noMatch, invalid} {
		require.NoError(t, env.Admin.Create(ctx, wh))
	}

	condition := func(wh *kargoapi.Warehouse, t string) *metav1.Condition {
		got := &kargoapi.Warehouse{}
		if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(wh), got); err != nil {
			return nil
		}
		return meta.FindStatusCondition(got.Status.Conditions, t)
	}
	for _, tc := range []struct {
		wh      *kargoapi.Warehouse
		reason  string
		message string
		stalled bool
	}{
		{bad, "AuthenticationFailed", "git " + gs.RepoURL("private") + ": ", false},
		{noMatch, "NoMatch", "^9.0.0", false},
		{invalid, "InvalidSubscription", "allowTags", true},
	} {
		eventually(t, time.Minute, tc.wh.Name+" reports its failure", func() (bool, string) {
			ready := condition(tc.wh, kargoapi.ConditionReady)
			if ready == nil {
				return false, "no Ready condition"
			}
			return ready.Status == metav1.ConditionFalse && ready.Reason == tc.reason && strings.Contains(ready.Message, tc.message),
				fmt.Sprintf("%+v", ready)
		})
		ready := condition(tc.wh, kargoapi.ConditionReady)
		require.NotContains(t, ready.Message, "wrong-password")
		stalled := condition(tc.wh, kargoapi.ConditionStalled)
		require.Equal(t, tc.stalled, stalled != nil && stalled.Status == metav1.ConditionTrue)
	}

	eventually(t, time.Minute, "the good Warehouse produces Freight", func() (bool, string) {
		return len(freightOf(t, ns, "good")) == 1, "none yet"
	})
	reg.PushImage(t, "app", "1.1.0", registry.Image{})
	refresh(t, good)
	eventually(t, time.Minute, "the good Warehouse keeps producing Freight", func() (bool, string) {
		return len(freightOf(t, ns, "good")) == 2, "no second Freight"
	})
	require.Empty(t, freightOf(t, ns, "bad"))

	// Fixing the password heals the bad Warehouse at its next refresh.
	fixed := gitSecret(ns, "private-git", gs.RepoURL("private"), "kargo", "right-password")
	require.NoError(t, env.Admin.Update(ctx, fixed))
	refresh(t, bad)
	eventually(t, time.Minute, "the fixed Warehouse produces Freight", func() (bool, string) {
		return len(freightOf(t, ns, "bad")) == 1, fmt.Sprintf("%+v", condition(bad, kargoapi.ConditionReady))
	})
}

// The Concepts page's Stage with repos subscriptions gets the same discovery.
func TestStageWithReposSubscription(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "stagerepos")
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("kargo-demo")
	head := gs.Commit(t, "kargo-demo", "main", map[string]string{"stages/test/kustomization.yaml": "{}\n"}, "first")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "nginx", "1.24.0", registry.Image{})
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Repos: &kargoapi.RepoSubscriptions{
			Git:    []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(gs.RepoURL("kargo-demo")), Branch: "main"}},
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(reg.Host() + "/nginx"), SemverConstraint: "^1.24.0"}},
		}}},
	}
	require.NoError(t, env.Admin.Create(ctx, st))
	eventually(t, time.Minute, "available Freight", func() (bool, string) {
		got := &kargoapi.Stage{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(st), got))
		return len(got.Status.AvailableFreight) == 1, fmt.Sprintf("%+v", got.Status)
	})
	reg.PushImage(t, "nginx", "1.24.1", registry.Image{})
	refresh(t, st)
	got := &kargoapi.Stage{}
	eventually(t, time.Minute, "a second available Freight", func() (bool, string) {
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(st), got))
		return len(got.Status.AvailableFreight) == 2, fmt.Sprintf("%d", len(got.Status.AvailableFreight))
	})
	require.Equal(t, "1.24.1", got.Status.AvailableFreight[0].Images[0].Tag, "newest first")
	require.Equal(t, head, got.Status.AvailableFreight[0].Commits[0].ID)
	require.NotNil(t, got.Status.AvailableFreight[0].FirstSeen)
	require.Equal(t, &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginStage, Name: "test"}, freightOf(t, ns, "test")[0].Origin)
}
