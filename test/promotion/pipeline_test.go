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

func get[T client.Object](t *testing.T, obj T, ns, name string) T {
	t.Helper()
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj))
	return obj
}

func waitPromotion(t *testing.T, ns, name string) *kargoapi.Promotion {
	t.Helper()
	var p *kargoapi.Promotion
	eventually(t, time.Minute, "Promotion "+name+" ends", func() (bool, string) {
		p = get(t, &kargoapi.Promotion{}, ns, name)
		return p.Status.Phase.IsTerminal(), fmt.Sprintf("%s: %s", p.Status.Phase, p.Status.Message)
	})
	return p
}

const kustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
`

const values = `# Values for prod.
replicaCount: 3   # keep three

image:
  repository: nginx
  tag: "1.0.0" # set by kargo
`

func stageSpec(repo, image, name string, subs kargoapi.Subscriptions, helm bool) kargoapi.StageSpec {
	update := kargoapi.GitRepoUpdate{
		RepoURL:     kargoapi.GitRepoURL(repo),
		ReadBranch:  "main",
		WriteBranch: kargoapi.BranchName("stages/" + name),
		Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{
			Image: kargoapi.ImageRepoURL(image), Path: kargoapi.RepoPath("stages/" + name),
		}}},
	}
	if helm {
		update.Helm = &kargoapi.HelmPromotionMechanism{Images: []kargoapi.HelmImageUpdate{{
			Image: kargoapi.ImageRepoURL(image), ValuesFilePath: kargoapi.RepoPath("stages/" + name + "/values.yaml"),
			Key: "image.tag", Value: kargoapi.ImageUpdateValueTag,
		}}}
	}
	return kargoapi.StageSpec{
		Subscriptions:       &subs,
		PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{update}},
	}
}

// The pipeline of the Concepts page: test ← Warehouse (auto-promoted by a
// PromotionPolicy), uat ← test, prod ← uat, each promotion a commit to a
// Stage branch.
func TestThreeStagePipeline(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "pipeline")
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{
		"base/deployment.yaml":           "kind: Deployment\n",
		"stages/test/kustomization.yaml": kustomization,
		"stages/uat/kustomization.yaml":  kustomization,
		"stages/prod/kustomization.yaml": kustomization,
		"stages/prod/values.yaml":        values,
	}, "initial layout")
	repo := gs.RepoURL("gitops")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "nginx", "1.24.0", registry.Image{})
	image := reg.Host() + "/nginx"

	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "kargo-demo", Namespace: ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image), SemverConstraint: "^1.24.0"}},
		}},
	}))
	for _, s := range []struct {
		name string
		subs kargoapi.Subscriptions
		helm bool
	}{
		{"test", kargoapi.Subscriptions{Warehouse: "kargo-demo"}, false},
		{"uat", kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}}, false},
		{"prod", kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "uat"}}}, true},
	} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns},
			Spec:       stageSpec(repo, image, s.name, s.subs, s.helm),
		}))
	}
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.PromotionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns}, Stage: "test", EnableAutoPromotion: true,
	}))

	// New Freight flows into test by itself.
	var first string
	eventually(t, time.Minute, "auto-promotion into test", func() (bool, string) {
		st := get(t, &kargoapi.Stage{}, ns, "test")
		if st.Status.CurrentFreight == nil {
			return false, fmt.Sprintf("%+v", st.Status)
		}
		first = st.Status.CurrentFreight.ID
		return true, ""
	})
	require.Contains(t, gs.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "newTag: 1.24.0")
	require.Contains(t, gs.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "name: "+image)
	eventually(t, 30*time.Second, "verified in test", func() (bool, string) {
		f := get(t, &kargoapi.Freight{}, ns, first)
		_, ok := f.Status.VerifiedIn["test"]
		return ok, fmt.Sprintf("%+v", f.Status)
	})

	// Skipping uat is refused, with the reason.
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: "skip-uat", Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: "prod", Freight: first},
	}))
	p := waitPromotion(t, ns, "skip-uat")
	require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase)
	require.Contains(t, p.Status.Message, "is not verified in upstream Stage uat")

	for _, stage := range []string{"uat", "prod"} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{Name: stage + "-to-" + first[:8], Namespace: ns},
			Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: first},
		}))
		p := waitPromotion(t, ns, stage+"-to-"+first[:8])
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	}
	prodValues := gs.Show(t, "gitops", "stages/prod", "stages/prod/values.yaml")
	require.Equal(t, strings.Replace(values, `tag: "1.0.0"`, `tag: "1.24.0"`, 1), prodValues, "only the tag changed, byte for byte")
	log := gs.Git(t, "gitops", "", "log", "-1", "--format=%B", "stages/prod")
	require.Contains(t, log, "Kargo-Freight: "+first)

	prod := get(t, &kargoapi.Stage{}, ns, "prod")
	require.Equal(t, first, prod.Status.CurrentFreight.ID)
	require.Equal(t, kargoapi.StagePhaseSteady, prod.Status.Phase)

	// A newer image reaches test automatically; prod keeps its Freight.
	reg.PushImage(t, "nginx", "1.25.0", registry.Image{})
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"kargo.akuity.io/refresh":%q}}}`, time.Now().UTC().Format(time.RFC3339Nano))
	require.NoError(t, env.Admin.Patch(ctx, &kargoapi.Warehouse{ObjectMeta: metav1.ObjectMeta{Name: "kargo-demo", Namespace: ns}},
		client.RawPatch("application/merge-patch+json", []byte(patch))))
	eventually(t, time.Minute, "1.25.0 auto-promoted into test", func() (bool, string) {
		st := get(t, &kargoapi.Stage{}, ns, "test")
		return st.Status.CurrentFreight != nil && st.Status.CurrentFreight.ID != first, fmt.Sprintf("%+v", st.Status.CurrentFreight)
	})
	require.Contains(t, gs.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "newTag: 1.25.0")
	test := get(t, &kargoapi.Stage{}, ns, "test")
	require.Len(t, test.Status.History, 2)
	require.Equal(t, first, get(t, &kargoapi.Stage{}, ns, "prod").Status.CurrentFreight.ID)
}

// A values key that does not exist fails the Promotion with a message that
// names it, and changes neither the repository nor the Stage.
func TestMissingValuesKeyFailsClearly(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "badkey")
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("gitops")
	head := gs.Commit(t, "gitops", "main", map[string]string{"values.yaml": "image:\n  tag: 1.0.0\n"}, "init")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "app", "1.0.1", registry.Image{})
	image := reg.Host() + "/app"
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "wh", Namespace: ns},
		Spec:       kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image)}}}},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "wh"},
			PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
				RepoURL: kargoapi.GitRepoURL(gs.RepoURL("gitops")), WriteBranch: "main",
				Helm: &kargoapi.HelmPromotionMechanism{Images: []kargoapi.HelmImageUpdate{{
					Image: kargoapi.ImageRepoURL(image), ValuesFilePath: "values.yaml", Key: "image.version", Value: kargoapi.ImageUpdateValueTag,
				}}},
			}}},
		},
	}))
	var freightName string
	eventually(t, time.Minute, "Freight available", func() (bool, string) {
		st := get(t, &kargoapi.Stage{}, ns, "test")
		if len(st.Status.AvailableFreight) == 0 {
			return false, "none"
		}
		freightName = st.Status.AvailableFreight[0].ID
		return true, ""
	})
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: freightName},
	}))
	p := waitPromotion(t, ns, "p")
	require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase)
	require.Contains(t, p.Status.Message, "image.version")
	require.Contains(t, p.Status.Message, "values.yaml")
	require.Equal(t, head, strings.TrimSpace(gs.Git(t, "gitops", "", "rev-parse", "main")), "the repository is unchanged")
	require.Nil(t, get(t, &kargoapi.Stage{}, ns, "test").Status.CurrentFreight)
}
