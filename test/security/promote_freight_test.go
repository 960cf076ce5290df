package security

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// freightAs returns a client that authenticates as user with the user's own
// bearer token, as a person with a kubeconfig would.
func freightAs(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = kubetest.Token(user)
	cfg.QPS, cfg.Burst = 1000, 2000
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	return c
}

// freightPipeline is an imagePipeline watching image nginx (1.24.0 pushed
// before the Warehouse exists), with Stage test fed by w and Stage uat fed
// by test, both auto-promoted.
type freightPipeline struct{ *imagePipeline }

func freightNewPipeline(t *testing.T) *freightPipeline {
	t.Helper()
	p := newImagePipeline(t, "freight", "nginx", "1.24.0",
		pipelineStage{name: "test", subs: kargoapi.Subscriptions{Warehouse: "w"}, auto: true},
		pipelineStage{name: "uat", subs: kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}}, auto: true},
	)
	return &freightPipeline{p}
}

// current waits until stage's current Freight is want, and returns the
// Stage.
func (p *freightPipeline) current(t *testing.T, stage, want string) *kargoapi.Stage {
	t.Helper()
	st := &kargoapi.Stage{}
	kubetest.Eventually(t, time.Minute, fmt.Sprintf("Stage %s holds Freight %s", stage, want), func() (bool, string) {
		require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: p.ns, Name: stage}, st))
		c := st.Status.CurrentFreight
		return c != nil && c.ID == want && st.Status.CurrentPromotion == nil, fmt.Sprintf("%+v", st.Status)
	})
	return st
}

// produced waits until the controller has produced Freight for tag of the
// pipeline's image, and returns it.
func (p *freightPipeline) produced(t *testing.T, tag string) *kargoapi.Freight {
	t.Helper()
	var found *kargoapi.Freight
	kubetest.Eventually(t, time.Minute, "Freight for "+tag, func() (bool, string) {
		list := &kargoapi.FreightList{}
		require.NoError(t, env.Admin.List(context.Background(), list, client.InNamespace(p.ns)))
		for i := range list.Items {
			if f := &list.Items[i]; len(f.Images) == 1 && f.Images[0].Tag == tag && freight.ProducedByController(f) {
				found = f
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d Freight", len(list.Items))
	})
	return found
}

// refresh makes Warehouse w look at its registry now.
func (p *freightPipeline) refresh(t *testing.T) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"kargo.akuity.io/refresh":%q}}}`, time.Now().UTC().Format(time.RFC3339Nano))
	require.NoError(t, env.Admin.Patch(context.Background(), &kargoapi.Warehouse{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: p.ns}},
		client.RawPatch("application/merge-patch+json", []byte(patch))))
}

// availableFirst waits until stage lists f first among its available
// Freight. The Stage controller decides auto-promotion in the same pass
// that writes that list, so from then on any auto-promotion of f exists.
func (p *freightPipeline) availableFirst(t *testing.T, stage string, f *kargoapi.Freight) {
	t.Helper()
	kubetest.Eventually(t, time.Minute, fmt.Sprintf("Stage %s lists %s first", stage, f.Name), func() (bool, string) {
		st := &kargoapi.Stage{}
		require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: p.ns, Name: stage}, st))
		a := st.Status.AvailableFreight
		return len(a) > 0 && a[0].ID == f.Name, fmt.Sprintf("%+v", a)
	})
}

// promotionsOf returns the names of the Promotions of f.
func (p *freightPipeline) promotionsOf(t *testing.T, f *kargoapi.Freight) []string {
	t.Helper()
	list := &kargoapi.PromotionList{}
	require.NoError(t, env.Admin.List(context.Background(), list, client.InNamespace(p.ns)))
	var names []string
	for _, pr := range list.Items {
		if pr.Spec.Freight == f.Name {
			names = append(names, pr.Name+" into "+pr.Spec.Stage)
		}
	}
	return names
}

// commitsOf returns the commits of branch that name Freight f.
func (p *freightPipeline) commitsOf(t *testing.T, branch string, f *kargoapi.Freight) []string {
	t.Helper()
	var out []string
	for _, e := range p.git.Log(t, "gitops", branch) {
		if strings.Contains(e.Message, "Kargo-Freight: "+f.Name) {
			out = append(out, e.SHA)
		}
	}
	return out
}

// freightCarols is Freight carol writes by hand: it claims Warehouse w as
// its origin and carries the pipeline's image at a tag of her choosing.
func freightCarols(p *freightPipeline, tag string) *kargoapi.Freight {
	images := []kargoapi.Image{{RepoURL: p.image, Tag: tag}}
	return &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}, nil, images, nil), Namespace: p.ns},
		Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"},
		Images:     images,
	}
}

// Attacks on auto-promotion through Freight: carol may create and change
// Freight (every verb on kargo kinds) but holds no promote verb, so
// nothing she does with Freight may make the controller commit for a Stage.
func TestFreightAttacks(t *testing.T) {
	ctx := context.Background()
	p := freightNewPipeline(t)
	carol := freightAs(t, kubetest.Carol)
	first := p.produced(t, "1.24.0")
	p.current(t, "test", first.Name)
	p.current(t, "uat", first.Name)
	require.Equal(t, &kargoapi.FreightCreator{Username: controllers.ServiceAccount, Controller: true}, first.CreatedBy,
		"the controller's Freight names the controller as its creator")

	var carols *kargoapi.Freight
	t.Run("carol creates Freight claiming Warehouse w and it is not auto-promoted", func(t *testing.T) {
		before := p.git.BranchHead(t, "gitops", "stages/test")
		carols = freightCarols(p, "6.6.6")
		require.NoError(t, carol.Create(ctx, carols), "RBAC lets carol create Freight")
		got := &kargoapi.Freight{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(carols), got))
		require.Equal(t, &kargoapi.FreightCreator{Username: kubetest.Carol}, got.CreatedBy)

		p.availableFirst(t, "test", carols)
		require.Empty(t, p.promotionsOf(t, carols), "no Promotion of carol's Freight")
		require.Equal(t, before, p.git.BranchHead(t, "gitops", "stages/test"), "no commit to test's branch")
		require.Equal(t, first.Name, p.current(t, "test", first.Name).Status.CurrentFreight.ID)
	})

	t.Run("carol cannot set or change the creator record", func(t *testing.T) {
		forged := freightCarols(p, "6.6.7")
		forged.CreatedBy = &kargoapi.FreightCreator{Username: controllers.ServiceAccount, Controller: true}
		require.NoError(t, carol.Create(ctx, forged))
		got := &kargoapi.Freight{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(forged), got))
		require.Equal(t, &kargoapi.FreightCreator{Username: kubetest.Carol}, got.CreatedBy, "a createdBy in the request is overwritten")

		for _, target := range []*kargoapi.Freight{forged, first} {
			before := &kargoapi.Freight{}
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(target), before))
			for _, patch := range []string{
				`{"createdBy":{"username":"` + controllers.ServiceAccount + `","controller":true}}`,
				`{"createdBy":{"username":"carol"}}`,
				`{"createdBy":null}`,
			} {
				err := carol.Patch(ctx, before.DeepCopy(), client.RawPatch("application/merge-patch+json", []byte(patch)))
				require.NoError(t, err, "the change is accepted with its record put back: %s", patch)
				after := &kargoapi.Freight{}
				require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(target), after))
				require.Equal(t, before.CreatedBy, after.CreatedBy, "%s on %s", patch, target.Name)
			}
		}
		p.availableFirst(t, "test", forged)
		require.Empty(t, p.promotionsOf(t, forged), "no Promotion of carol's Freight")
	})

	t.Run("carol sets a far-future discovered-at and auto-promotion still picks the newest Freight", func(t *testing.T) {
		key := kargoapi.DiscoveredAtAnnotationKey
		// At creation, the webhook stamps the time of admission.
		future := freightCarols(p, "6.6.8")
		future.Annotations = map[string]string{key: "2999-01-01T00:00:00Z"}
		require.NoError(t, carol.Create(ctx, future))
		got := &kargoapi.Freight{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(future), got))
		at, err := time.Parse(time.RFC3339Nano, got.Annotations[key])
		require.NoError(t, err)
		require.WithinDuration(t, time.Now(), at, time.Minute, "the forged discovered-at was replaced")

		// Afterwards, a change of it is undone, on the controller's Freight too.
		before := &kargoapi.Freight{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(first), before))
		patch := `{"metadata":{"annotations":{"` + key + `":"2999-01-01T00:00:00Z"}}}`
		require.NoError(t, carol.Patch(ctx, before.DeepCopy(), client.RawPatch("application/merge-patch+json", []byte(patch))))
		after := &kargoapi.Freight{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(first), after))
		require.Equal(t, before.Annotations[key], after.Annotations[key])

		// New Freight from the Warehouse still flows into test and uat.
		p.reg.PushImage(t, "nginx", "1.25.0", registry.Image{})
		p.refresh(t)
		second := p.produced(t, "1.25.0")
		p.current(t, "test", second.Name)
		p.current(t, "uat", second.Name)
		require.Len(t, p.commitsOf(t, "stages/test", second), 1)
		require.Contains(t, p.git.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "newTag: 1.25.0")
	})

	t.Run("a promoter may promote carol's Freight by hand, and it does not flow downstream by itself", func(t *testing.T) {
		hotfix := freightCarols(p, "6.6.9")
		require.NoError(t, carol.Create(ctx, hotfix))
		alice := freightAs(t, kubetest.Alice)
		require.NoError(t, alice.Create(ctx, &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{Name: "alice-chooses-carols", Namespace: p.ns},
			Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: hotfix.Name},
		}))
		p.current(t, "test", hotfix.Name)
		require.Len(t, p.commitsOf(t, "stages/test", hotfix), 1, "alice chose it: one commit")
		kubetest.Eventually(t, time.Minute, "carol's Freight verified in test", func() (bool, string) {
			f := &kargoapi.Freight{}
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(hotfix), f))
			_, ok := f.Status.VerifiedIn["test"]
			return ok, fmt.Sprintf("%+v", f.Status)
		})

		// Verified in test, it is the newest Freight uat may receive, and
		// uat's policy still does not move it.
		p.availableFirst(t, "uat", hotfix)
		require.Equal(t, []string{"alice-chooses-carols into test"}, p.promotionsOf(t, hotfix))
		require.Empty(t, p.commitsOf(t, "stages/uat", hotfix), "no commit to uat's branch")
	})

	t.Run("Freight that carol creates is shown with its creator in the API", func(t *testing.T) {
		vera := freightAs(t, kubetest.Vera)
		got := &kargoapi.Freight{}
		require.NoError(t, vera.Get(ctx, client.ObjectKeyFromObject(carols), got))
		require.Equal(t, kubetest.Carol, got.CreatedBy.Username)
		require.False(t, got.CreatedBy.Controller)
	})
}
