package security

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// imagePipeline is the project several attacks run against: a Git
// repository gitops with a kustomization per Stage on main, an image
// registry, Warehouse w watching one image of it, and Stages that each
// write branch stages/<name>, setting the image in stages/<name>. Alice is
// a kargo-promoter there; the access users hold their usual roles.
type imagePipeline struct {
	ns    string
	git   *gitserver.Server
	reg   *registry.Registry
	image string
}

// pipelineStage is one Stage of an imagePipeline: what it subscribes to,
// and whether a PromotionPolicy auto-promotes into it.
type pipelineStage struct {
	name string
	subs kargoapi.Subscriptions
	auto bool
}

// newImagePipeline creates the project (its name starts with prefix) and
// everything in it, the image being <registry>/<image>. When firstTag is
// not empty, that tag of the image is pushed before the Warehouse exists.
func newImagePipeline(t *testing.T, prefix, image, firstTag string, stages ...pipelineStage) *imagePipeline {
	t.Helper()
	ctx := context.Background()
	p := &imagePipeline{ns: env.NewProject(t, prefix), git: gitserver.New(t), reg: registry.New(t, registry.Options{})}
	controllers.AllowOutbound(t, p.git.Host(), p.reg.Host())
	p.image = p.reg.Host() + "/" + image
	layout := map[string]string{}
	for _, s := range stages {
		layout["stages/"+s.name+"/kustomization.yaml"] = "resources: []\n"
	}
	p.git.CreateRepo("gitops")
	p.git.Commit(t, "gitops", "main", layout, "layout")
	if firstTag != "" {
		p.reg.PushImage(t, image, firstTag, registry.Image{})
	}
	env.BindAccessUsers(t, p.ns)
	env.Bind(t, p.ns, kubetest.Alice, "ClusterRole", "kargo-promoter")

	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: p.ns},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(p.image), SemverConstraint: "^1.0.0"}},
		}},
	}))
	for _, s := range stages {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: p.ns},
			Spec: kargoapi.StageSpec{
				Subscriptions: &s.subs,
				PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
					RepoURL: kargoapi.GitRepoURL(p.git.RepoURL("gitops")), ReadBranch: "main", WriteBranch: kargoapi.BranchName("stages/" + s.name),
					Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{
						Image: kargoapi.ImageRepoURL(p.image), Path: kargoapi.RepoPath("stages/" + s.name),
					}}},
				}}},
			},
		}))
		if s.auto {
			require.NoError(t, env.Admin.Create(ctx, &kargoapi.PromotionPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: p.ns}, Stage: s.name, EnableAutoPromotion: true,
			}))
		}
	}
	return p
}
