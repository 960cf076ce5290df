package promotion

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// originsHeld returns the Freight a Stage holds, origin name to Freight
// name.
func originsHeld(st *kargoapi.Stage) map[string]string {
	out := map[string]string{}
	for _, f := range st.Status.CurrentFreightByOrigin {
		if f.Origin != nil {
			out[f.Origin.Name] = f.ID
		}
	}
	return out
}

// newestOf returns the name of the newest Freight of a Warehouse.
func newestOf(t *testing.T, ns, warehouse string) string {
	t.Helper()
	wh := get(t, &kargoapi.Warehouse{}, ns, warehouse)
	if wh.Status.LastFreight == nil {
		return ""
	}
	return wh.Status.LastFreight.Name
}

func refreshWarehouse(t *testing.T, ns, name string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"kargo.akuity.io/refresh":%q}}}`, time.Now().UTC().Format(time.RFC3339Nano))
	require.NoError(t, env.Admin.Patch(context.Background(), &kargoapi.Warehouse{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		client.RawPatch("application/merge-patch+json", []byte(patch))))
}

// Microservices promoted together: three Warehouses (two images and the
// GitOps repository's main branch) feed test directly; uat takes each
// origin's Freight from test (availabilityStrategy All). Both Stages
// auto-promote. Each Stage holds one Freight per origin; new Freight of one
// Warehouse moves alone, through test and then uat, and the others stay,
// in the Stages' status and in the branches kargo writes.
func TestSeveralWarehousesPerStage(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "origins")
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{
		"base/deployment.yaml":           "kind: Deployment\n",
		"stages/test/kustomization.yaml": kustomization,
		"stages/uat/kustomization.yaml":  kustomization,
	}, "initial layout")
	repo := gs.RepoURL("gitops")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "api", "1.0.0", registry.Image{})
	reg.PushImage(t, "web", "1.0.0", registry.Image{})
	api, web := reg.Host()+"/api", reg.Host()+"/web"

	for name, subs := range map[string]kargoapi.RepoSubscriptions{
		"api":    {Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(api), SemverConstraint: "^1.0.0"}}},
		"web":    {Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(web), SemverConstraint: "^1.0.0"}}},
		"config": {Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(repo), Branch: "main"}}},
	} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       kargoapi.WarehouseSpec{Subscriptions: subs},
		}))
	}
	request := func(origin string, sources kargoapi.FreightSources) kargoapi.FreightRequest {
		return kargoapi.FreightRequest{Origin: kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: origin}, Sources: sources}
	}
	// No readBranch: each update reads the config Freight's commit of
	// main, and sets both images on it.
	mechanisms := func(stage string) *kargoapi.PromotionMechanisms {
		return &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
			RepoURL:     kargoapi.GitRepoURL(repo),
			WriteBranch: kargoapi.BranchName("stages/" + stage),
			Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{
				{Image: kargoapi.ImageRepoURL(api), Path: kargoapi.RepoPath("stages/" + stage)},
				{Image: kargoapi.ImageRepoURL(web), Path: kargoapi.RepoPath("stages/" + stage)},
			}},
		}}}
	}
	direct := kargoapi.FreightSources{Direct: true}
	fromTest := kargoapi.FreightSources{Stages: []string{"test"}, AvailabilityStrategy: kargoapi.AvailabilityStrategyAll}
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec: kargoapi.StageSpec{
			RequestedFreight:    []kargoapi.FreightRequest{request("api", direct), request("web", direct), request("config", direct)},
			PromotionMechanisms: mechanisms("test"),
		},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "uat", Namespace: ns},
		Spec: kargoapi.StageSpec{
			RequestedFreight:    []kargoapi.FreightRequest{request("api", fromTest), request("web", fromTest), request("config", fromTest)},
			PromotionMechanisms: mechanisms("uat"),
		},
	}))
	for _, stage := range []string{"test", "uat"} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.PromotionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: stage, Namespace: ns}, Stage: stage, EnableAutoPromotion: true,
		}))
	}

	// waitHeld waits until stage holds exactly want (origin to Freight).
	waitHeld := func(stage string, want map[string]string) *kargoapi.Stage {
		t.Helper()
		var st *kargoapi.Stage
		eventually(t, 2*time.Minute, stage+" holds "+fmt.Sprint(want), func() (bool, string) {
			st = get(t, &kargoapi.Stage{}, ns, stage)
			held := originsHeld(st)
			return fmt.Sprint(held) == fmt.Sprint(want) && st.Status.CurrentPromotion == nil, fmt.Sprintf("holds %v, phase %s", held, st.Status.Phase)
		})
		return st
	}
	var first map[string]string
	eventually(t, time.Minute, "Freight from all three Warehouses", func() (bool, string) {
		first = map[string]string{"api": newestOf(t, ns, "api"), "web": newestOf(t, ns, "web"), "config": newestOf(t, ns, "config")}
		return first["api"] != "" && first["web"] != "" && first["config"] != "", fmt.Sprint(first)
	})
	test := waitHeld("test", first)
	require.Len(t, test.Status.History, 3, "one entry per promotion, each with its origin")
	uat := waitHeld("uat", first)
	for _, stage := range []string{"test", "uat"} {
		k := gs.Show(t, "gitops", "stages/"+stage, "stages/"+stage+"/kustomization.yaml")
		require.Contains(t, k, "name: "+api+"\n  newTag: 1.0.0", stage)
		require.Contains(t, k, "name: "+web+"\n  newTag: 1.0.0", stage)
	}

	// A new api image: its Freight moves alone, into test and then uat.
	// The commit to stages/test changes the api tag and nothing else.
	testHead := strings.TrimSpace(gs.Git(t, "gitops", "", "rev-parse", "stages/test"))
	reg.PushImage(t, "api", "1.1.0", registry.Image{})
	refreshWarehouse(t, ns, "api")
	var api2 string
	eventually(t, time.Minute, "new api Freight", func() (bool, string) {
		api2 = newestOf(t, ns, "api")
		return api2 != first["api"], api2
	})
	second := map[string]string{"api": api2, "web": first["web"], "config": first["config"]}
	test = waitHeld("test", second)
	require.Equal(t, api2, test.Status.CurrentFreight.ID, "the most recent promotion's Freight")
	diff := gs.Git(t, "gitops", "", "diff", "--unified=0", testHead, "stages/test")
	require.Contains(t, diff, "+  newTag: 1.1.0")
	require.Equal(t, 1, strings.Count(diff, "\n+ "), "one line added:\n"+diff)
	require.Equal(t, 1, strings.Count(diff, "\n- "), "one line removed:\n"+diff)
	log := gs.Git(t, "gitops", "", "log", "-1", "--format=%B", "stages/test")
	require.Contains(t, log, "Kargo-Freight: "+api2)
	waitHeld("uat", second)
	require.Contains(t, gs.Show(t, "gitops", "stages/uat", "stages/uat/kustomization.yaml"), "name: "+api+"\n  newTag: 1.1.0")
	require.Contains(t, gs.Show(t, "gitops", "stages/uat", "stages/uat/kustomization.yaml"), "name: "+web+"\n  newTag: 1.0.0")

	// A new commit on main: the config Freight moves alone. Its update reads
	// the new commit, and the images the Stages hold of api and web stay as
	// they were promoted, not as main has them.
	gs.Commit(t, "gitops", "main", map[string]string{"base/deployment.yaml": "kind: Deployment\nmetadata:\n  name: app\n"}, "name the deployment")
	refreshWarehouse(t, ns, "config")
	var cfg2 string
	eventually(t, time.Minute, "new config Freight", func() (bool, string) {
		cfg2 = newestOf(t, ns, "config")
		return cfg2 != first["config"], cfg2
	})
	third := map[string]string{"api": api2, "web": first["web"], "config": cfg2}
	for _, stage := range []string{"test", "uat"} {
		waitHeld(stage, third)
		require.Contains(t, gs.Show(t, "gitops", "stages/"+stage, "base/deployment.yaml"), "name: app", stage)
		k := gs.Show(t, "gitops", "stages/"+stage, "stages/"+stage+"/kustomization.yaml")
		require.Contains(t, k, "name: "+api+"\n  newTag: 1.1.0", stage)
		require.Contains(t, k, "name: "+web+"\n  newTag: 1.0.0", stage)
	}

	// Every Freight the Stages hold is verified in test, and uat's history
	// has one entry per origin's promotion, newest first.
	for _, name := range third {
		f := get(t, &kargoapi.Freight{}, ns, name)
		require.Contains(t, f.Status.VerifiedIn, "test", name)
		require.Contains(t, f.Status.VerifiedIn, "uat", name)
	}
	uat = get(t, &kargoapi.Stage{}, ns, "uat")
	require.Len(t, uat.Status.History, 5)
	require.Equal(t, cfg2, uat.Status.History[0].ID)
	require.Equal(t, "config", uat.Status.History[0].Origin.Name)
	require.Equal(t, api2, uat.Status.History[1].ID)
}
