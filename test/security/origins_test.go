package security

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// originsPipeline is a project whose Stage test requests Freight from two
// Warehouses, api and web (each watching its own image), directly, and sets
// both images in stages/test of the gitops repository; a PromotionPolicy
// auto-promotes into it. Carol may edit everything but promote; alice is a
// kargo-promoter; bob may edit as carol and promote into uat only; adam is
// kargo-admin.
type originsPipeline struct {
	ns       string
	git      *gitserver.Server
	api, web string
	// held is what test holds once both Warehouses' first Freight is in.
	held map[string]string
}

func originsRequest(warehouse string, sources kargoapi.FreightSources) kargoapi.FreightRequest {
	return kargoapi.FreightRequest{Origin: kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: warehouse}, Sources: sources}
}

func originsStage(p *originsPipeline, name string, reqs ...kargoapi.FreightRequest) *kargoapi.Stage {
	return &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.ns},
		Spec: kargoapi.StageSpec{
			RequestedFreight: reqs,
			PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
				RepoURL: kargoapi.GitRepoURL(p.git.RepoURL("gitops")), ReadBranch: "main", WriteBranch: kargoapi.BranchName("stages/" + name),
				Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{
					{Image: kargoapi.ImageRepoURL(p.api), Path: "stages/test"},
					{Image: kargoapi.ImageRepoURL(p.web), Path: "stages/test"},
				}},
			}}},
		},
	}
}

// originsHeld returns what a Stage holds, origin name to Freight name.
func originsHeld(t *testing.T, ns, stage string) (map[string]string, *kargoapi.Stage) {
	t.Helper()
	st := admissionStage(t, ns, stage)
	held := map[string]string{}
	for _, f := range st.Status.CurrentFreightByOrigin {
		if f.Origin != nil {
			held[f.Origin.Name] = f.ID
		}
	}
	return held, st
}

func originsNewPipeline(t *testing.T) *originsPipeline {
	t.Helper()
	ctx := context.Background()
	p := &originsPipeline{ns: admissionProject(t, "origins"), git: gitserver.New(t)}
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, p.git.Host(), reg.Host())
	env.Bind(t, p.ns, kubetest.Alice, "ClusterRole", "kargo-promoter")
	p.git.CreateRepo("gitops")
	p.git.Commit(t, "gitops", "main", map[string]string{"stages/test/kustomization.yaml": "resources: []\n"}, "layout")
	reg.PushImage(t, "api", "1.0.0", registry.Image{})
	reg.PushImage(t, "web", "1.0.0", registry.Image{})
	p.api, p.web = reg.Host()+"/api", reg.Host()+"/web"
	for name, image := range map[string]string{"api": p.api, "web": p.web} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.ns},
			Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
				Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image), SemverConstraint: "^1.0.0"}},
			}},
		}))
	}
	direct := kargoapi.FreightSources{Direct: true}
	require.NoError(t, env.Admin.Create(ctx, originsStage(p, "test", originsRequest("api", direct), originsRequest("web", direct))))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.PromotionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: p.ns}, Stage: "test", EnableAutoPromotion: true,
	}))
	kubetest.Eventually(t, 2*time.Minute, "test holds Freight of api and web", func() (bool, string) {
		held, st := originsHeld(t, p.ns, "test")
		p.held = held
		return len(held) == 2 && st.Status.CurrentPromotion == nil, fmt.Sprintf("%v", held)
	})
	return p
}

// branchHead returns the commit a branch of gitops is at, "" when missing.
func (p *originsPipeline) branchHead(t *testing.T, branch string) string {
	t.Helper()
	return p.git.BranchHead(t, "gitops", branch)
}

// originsPromote creates a Promotion as c and waits for it to end.
func originsPromote(t *testing.T, c client.Client, ns, name, stage, freightName string) *kargoapi.Promotion {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, c.Create(ctx, &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: freightName},
	}))
	p := &kargoapi.Promotion{}
	kubetest.Eventually(t, time.Minute, "Promotion "+name+" ends", func() (bool, string) {
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p))
		return p.Status.Phase.IsTerminal(), string(p.Status.Phase) + ": " + p.Status.Message
	})
	return p
}

func TestRequestedFreightAttacks(t *testing.T) {
	ctx := context.Background()
	p := originsNewPipeline(t)
	alice, carol, adam := env.As(t, kubetest.Alice), env.As(t, kubetest.Carol), env.As(t, kubetest.Adam)
	testHead := p.branchHead(t, "stages/test")
	require.NotEmpty(t, testHead)

	t.Run("Freight of origin api promoted into a Stage that requests only web", func(t *testing.T) {
		require.NoError(t, env.Admin.Create(ctx, originsStage(p, "webonly", originsRequest("web", kargoapi.FreightSources{Direct: true}))))
		err := alice.Create(ctx, &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{Name: "api-as-web", Namespace: p.ns},
			Spec:       kargoapi.PromotionSpec{Stage: "webonly", Freight: p.held["api"]},
		})
		admissionRefused(t, err, http.StatusUnprocessableEntity, "comes from Warehouse api, which Stage \"webonly\" does not request")
		require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKey{Namespace: p.ns, Name: "api-as-web"}, &kargoapi.Promotion{})), "no Promotion was written")
		require.Empty(t, p.branchHead(t, "stages/webonly"), "nothing was committed")
	})

	t.Run("hand-made Freight claiming origin web carries api's image, promoted by a promoter", func(t *testing.T) {
		// web's own image too, so that every edit of test finds its image:
		// without the origin check the promotion would set api to 6.6.6
		// while test's status says it holds api's Freight unchanged.
		forged := &kargoapi.Freight{
			Origin: &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "web"},
			Images: []kargoapi.Image{{RepoURL: p.web, Tag: "1.0.0"}, {RepoURL: p.api, Tag: "6.6.6"}},
		}
		forged.Name, forged.Namespace = freight.FingerprintOf(forged), p.ns
		require.NoError(t, carol.Create(ctx, forged), "carol may create Freight; only a promoter's choice can move it")
		promo := originsPromote(t, alice, p.ns, "forged-web", "test", forged.Name)
		require.Equal(t, kargoapi.PromotionPhaseFailed, promo.Status.Phase, promo.Status.Message)
		require.Contains(t, promo.Status.Message, "claims Warehouse web as its origin but carries image "+p.api)
		require.Equal(t, testHead, p.branchHead(t, "stages/test"), "nothing was committed")
		held, _ := originsHeld(t, p.ns, "test")
		require.Equal(t, p.held, held, "test still holds what it held")
	})

	t.Run("a Stage requests a Warehouse of another project", func(t *testing.T) {
		other := env.NewProject(t, "origins-other")
		reg := registry.New(t, registry.Options{})
		controllers.AllowOutbound(t, reg.Host())
		reg.PushImage(t, "secret", "1.0.0", registry.Image{})
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: "secret", Namespace: other},
			Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
				Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(reg.Host() + "/secret")}},
			}},
		}))
		var theirs string
		kubetest.Eventually(t, time.Minute, "Freight in the other project", func() (bool, string) {
			wh := &kargoapi.Warehouse{}
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: other, Name: "secret"}, wh))
			if wh.Status.LastFreight != nil {
				theirs = wh.Status.LastFreight.Name
			}
			return theirs != "", fmt.Sprintf("%+v", wh.Status.Conditions)
		})
		// Adam, kargo-admin of the project, may write its Stages; this one
		// names a Warehouse that only the other project has.
		st := originsStage(p, "cross", originsRequest("secret", kargoapi.FreightSources{Direct: true}))
		require.NoError(t, adam.Create(ctx, st))
		kubetest.Eventually(t, time.Minute, "Stage cross reconciled", func() (bool, string) {
			st = admissionStage(t, p.ns, "cross")
			return st.Status.ObservedGeneration == st.Generation, ""
		})
		require.Empty(t, st.Status.AvailableFreight, "the other project's Freight is not available")
		promo := originsPromote(t, alice, p.ns, "cross-theirs", "cross", theirs)
		require.Equal(t, kargoapi.PromotionPhaseFailed, promo.Status.Phase)
		require.Contains(t, promo.Status.Message, "does not exist in project "+p.ns)
		require.Empty(t, p.branchHead(t, "stages/cross"), "nothing was committed")
		held, _ := originsHeld(t, p.ns, "cross")
		require.Empty(t, held)
	})

	t.Run("an editor without promote adds an origin to test", func(t *testing.T) {
		before := admissionStage(t, p.ns, "test").Spec
		err := admissionEdit(t, carol, p.ns, "test", func(st *kargoapi.Stage) {
			st.Spec.RequestedFreight = append(st.Spec.RequestedFreight, originsRequest("extra", kargoapi.FreightSources{Direct: true}))
		})
		admissionRefused(t, err, http.StatusForbidden, "needs the right to promote into it")
		require.Equal(t, before, admissionStage(t, p.ns, "test").Spec, "the spec is unchanged")
	})

	t.Run("a promoter of uat only switches uat to take test's Freight directly", func(t *testing.T) {
		require.NoError(t, env.Admin.Create(ctx, originsStage(p, "uat",
			originsRequest("api", kargoapi.FreightSources{Stages: []string{"test"}, AvailabilityStrategy: kargoapi.AvailabilityStrategyAll}))))
		bob := env.As(t, kubetest.Bob)
		// Bob may promote into uat, so he may write its spec: that is his
		// to decide, and it changes nothing outside uat.
		require.NoError(t, admissionEdit(t, bob, p.ns, "uat", func(st *kargoapi.Stage) {
			st.Spec.RequestedFreight[0].Sources.Direct = true
		}))
		// What he may not do is make test take Freight from elsewhere.
		before := admissionStage(t, p.ns, "test").Spec
		err := admissionEdit(t, bob, p.ns, "test", func(st *kargoapi.Stage) {
			st.Spec.RequestedFreight[0].Sources = kargoapi.FreightSources{Stages: []string{"uat"}}
		})
		admissionRefused(t, err, http.StatusForbidden, "needs the right to promote into it")
		require.Equal(t, before, admissionStage(t, p.ns, "test").Spec, "the spec is unchanged")
	})

	t.Run("a Stage's origin is a Stage, not a Warehouse", func(t *testing.T) {
		st := originsStage(p, "stage-origin", kargoapi.FreightRequest{
			Origin:  kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginStage, Name: "test"},
			Sources: kargoapi.FreightSources{Direct: true},
		})
		err := adam.Create(ctx, st)
		require.True(t, apierrors.IsInvalid(err), "%v", err)
		require.Contains(t, err.Error(), "only Warehouses are requested as origins")
		require.True(t, apierrors.IsNotFound(env.Admin.Get(ctx, client.ObjectKeyFromObject(st), &kargoapi.Stage{})), "nothing was written")
	})
}
