package verification

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/argocdsim"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

const gitops = "https://git.example.com/gitops.git"

func ensureArgoCDNamespace(t *testing.T) {
	t.Helper()
	err := env.Admin.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
}

// application creates an Argo CD Application that lets project:stage
// change it.
func application(t testing.TB, name, project, stage string) {
	t.Helper()
	app := &unstructured.Unstructured{}
	require.NoError(t, json.Unmarshal([]byte(fmt.Sprintf(`{
	  "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	  "metadata": {"name": %q, "namespace": "argocd", "annotations": {%q: "%s:%s"}},
	  "spec": {"project": "default",
	    "destination": {"server": "https://kubernetes.default.svc", "namespace": %q},
	    "source": {"repoURL": %q, "path": "stages/%s", "targetRevision": "HEAD", "kustomize": {"images": ["nginx:1.24.0"]}}}
	}`, name, kargoapi.AuthorizedStageAnnotationKey, project, stage, stage, gitops, stage)), &app.Object))
	require.NoError(t, env.Admin.Create(context.Background(), app))
}

func argoStage(ns, name, app string, subs kargoapi.Subscriptions) *kargoapi.Stage {
	return &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &subs,
			PromotionMechanisms: &kargoapi.PromotionMechanisms{ArgoCDAppUpdates: []kargoapi.ArgoCDAppUpdate{{
				AppName: app,
				SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
					RepoURL:   gitops,
					Kustomize: &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "nginx"}}},
				}},
			}}},
		},
	}
}

func newFreight(ns, tag string) *kargoapi.Freight {
	images := []kargoapi.Image{{RepoURL: "nginx", Tag: tag, Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(tag)))}}
	return &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}, nil, images, nil), Namespace: ns},
		Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"},
		Images:     images,
	}
}

func promote(t *testing.T, ns, stage string, f *kargoapi.Freight) *kargoapi.Promotion {
	t.Helper()
	p := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{GenerateName: stage + "-", Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: f.Name},
	}
	require.NoError(t, env.Admin.Create(context.Background(), p))
	kubetest.Eventually(t, time.Minute, "Promotion to "+stage+" ends", func() (bool, string) {
		require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(p), p))
		return p.Status.Phase.IsTerminal(), fmt.Sprintf("%s: %s", p.Status.Phase, p.Status.Message)
	})
	return p
}

func getFreight(t *testing.T, f *kargoapi.Freight) *kargoapi.Freight {
	t.Helper()
	got := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(f), got))
	return got
}

func getStage(t *testing.T, ns, name string) *kargoapi.Stage {
	t.Helper()
	st := &kargoapi.Stage{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, st))
	return st
}

// The Working With Freight page's story: Freight is verified in test, its
// verification fails in uat so it cannot reach prod, and a manual approval
// lets the hotfix skip uat.
func TestFailedVerificationStopsFreightAndApprovalSkipsIt(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "pipeline")
	ensureArgoCDNamespace(t)
	sim := &argocdsim.Sim{Client: env.Admin, Namespace: "argocd"}
	sim.Start(t)

	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer broken.Close()
	controllers.AllowOutbound(t, broken.Listener.Addr().String())

	for _, s := range []string{"test", "uat", "prod"} {
		application(t, ns+"-"+s, ns, s)
	}
	test := argoStage(ns, "test", ns+"-test", kargoapi.Subscriptions{Warehouse: "w"})
	uat := argoStage(ns, "uat", ns+"-uat", kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}})
	uat.Spec.Verification = &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{{
		Name: "smoke", URL: broken.URL + "/healthz", Count: 2, Interval: &metav1.Duration{Duration: 100 * time.Millisecond},
	}}}
	prod := argoStage(ns, "prod", ns+"-prod", kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "uat"}}})
	for _, st := range []*kargoapi.Stage{test, uat, prod} {
		require.NoError(t, env.Admin.Create(ctx, st))
	}
	hotfix := newFreight(ns, "1.25.1")
	require.NoError(t, env.Admin.Create(ctx, hotfix))

	// test: the Application is updated and synced; once Argo CD reports it
	// healthy, the Freight is verified there.
	p := promote(t, ns, "test", hotfix)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	app := &unstructured.Unstructured{}
	app.SetAPIVersion("argoproj.io/v1alpha1")
	app.SetKind("Application")
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: "argocd", Name: ns + "-test"}, app))
	images, _, _ := unstructured.NestedStringSlice(app.Object, "spec", "source", "kustomize", "images")
	require.Equal(t, []string{"nginx=nginx:1.25.1"}, images)
	// The Freight is marked verified before the pass that did it writes
	// the Stage's status: wait for both.
	kubetest.Eventually(t, 30*time.Second, "verified in test, and test healthy", func() (bool, string) {
		f := getFreight(t, hotfix)
		_, ok := f.Status.VerifiedIn["test"]
		st := getStage(t, ns, "test")
		healthy := st.Status.Health != nil && st.Status.Health.Status == kargoapi.HealthStateHealthy
		return ok && healthy, fmt.Sprintf("freight %+v; stage health %+v verification %+v", f.Status, st.Status.Health, st.Status.Verification)
	})

	// uat: healthy, but the smoke check fails, so the Freight stays
	// unverified there and the Stage says why.
	p = promote(t, ns, "uat", hotfix)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	kubetest.Eventually(t, 30*time.Second, "uat's verification fails", func() (bool, string) {
		st := getStage(t, ns, "uat")
		v := st.Status.Verification
		return v != nil && v.Phase == kargoapi.VerificationPhaseFailed, fmt.Sprintf("%+v", v)
	})
	st := getStage(t, ns, "uat")
	require.Equal(t, kargoapi.StagePhaseFailed, st.Status.Phase)
	require.Contains(t, st.Status.Verification.Message, "503")
	require.NotContains(t, getFreight(t, hotfix).Status.VerifiedIn, "uat")

	// prod refuses Freight not verified in uat...
	p = promote(t, ns, "prod", hotfix)
	require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase)
	require.Contains(t, p.Status.Message, "not verified in upstream Stage uat")

	// ...until it is approved for prod, which is what the page shows.
	f := getFreight(t, hotfix)
	require.NoError(t, env.Admin.Status().Patch(ctx, f, client.RawPatch("application/merge-patch+json", []byte(`{"status":{"approvedFor":{"prod":{}}}}`))))
	status := getFreight(t, hotfix).Status
	require.Equal(t, []string{"prod"}, keys(status.ApprovedFor))
	require.Equal(t, []string{"test"}, keys(status.VerifiedIn))

	p = promote(t, ns, "prod", hotfix)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	kubetest.Eventually(t, 30*time.Second, "verified in prod", func() (bool, string) {
		_, ok := getFreight(t, hotfix).Status.VerifiedIn["prod"]
		return ok, fmt.Sprintf("%+v", getStage(t, ns, "prod").Status.Verification)
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// An unhealthy Application keeps Freight unverified and says which one and
// why; a missing one makes the Stage's health Unknown.
func TestUnhealthyAndMissingApplications(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "unhealthy")
	ensureArgoCDNamespace(t)
	sim := &argocdsim.Sim{Client: env.Admin, Namespace: "argocd"}
	sim.SetBehaviour("argocd", ns+"-test", argocdsim.Behaviour{Health: "Degraded", Message: "Deployment nginx has 0/3 ready replicas"})
	sim.Start(t)
	application(t, ns+"-test", ns, "test")
	require.NoError(t, env.Admin.Create(ctx, argoStage(ns, "test", ns+"-test", kargoapi.Subscriptions{Warehouse: "w"})))
	f := newFreight(ns, "1.26.0")
	require.NoError(t, env.Admin.Create(ctx, f))
	p := promote(t, ns, "test", f)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	kubetest.Eventually(t, 30*time.Second, "test is unhealthy", func() (bool, string) {
		h := getStage(t, ns, "test").Status.Health
		return h != nil && h.Status == kargoapi.HealthStateUnhealthy, fmt.Sprintf("%+v", h)
	})
	h := getStage(t, ns, "test").Status.Health
	require.Contains(t, h.Issues[0], "0/3 ready replicas")
	require.Empty(t, getFreight(t, f).Status.VerifiedIn)

	require.NoError(t, env.Admin.Create(ctx, argoStage(ns, "ghost", ns+"-ghost", kargoapi.Subscriptions{Warehouse: "w"})))
	p = promote(t, ns, "ghost", f)
	require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase)
	require.Contains(t, p.Status.Message, ns+"-ghost")
}

// Freight verified upstream becomes available downstream only after the
// required soak time.
func TestSoakTime(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "soak")
	test := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}}}
	soak := 3 * time.Second
	prod := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: ns},
		Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{
			Name: "test", RequiredSoakTime: &metav1.Duration{Duration: soak},
		}}}}}
	require.NoError(t, env.Admin.Create(ctx, test))
	require.NoError(t, env.Admin.Create(ctx, prod))
	f := newFreight(ns, "2.0.0")
	require.NoError(t, env.Admin.Create(ctx, f))
	p := promote(t, ns, "test", f)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	verifiedAt := getFreight(t, f).Status.VerifiedIn["test"].VerifiedAt
	require.NotNil(t, verifiedAt)

	// Still soaking: not available, and a promotion says how long is left.
	p = promote(t, ns, "prod", f)
	require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase)
	require.Contains(t, p.Status.Message, "still soaking")
	require.Empty(t, getStage(t, ns, "prod").Status.AvailableFreight)

	kubetest.Eventually(t, soak+10*time.Second, "available in prod after soaking", func() (bool, string) {
		avail := getStage(t, ns, "prod").Status.AvailableFreight
		return len(avail) == 1, fmt.Sprintf("%+v", avail)
	})
	require.False(t, time.Now().Before(verifiedAt.Add(soak)), "available before the soak time ended")
}

// TestApprovalMakesFreightAvailable: approving Freight for a Stage that
// could not receive it otherwise (a hotfix into prod) shows in that
// Stage's available Freight, and taking the approval back removes it: a
// Freight change reaches exactly the Stages it concerns.
func TestApprovalMakesFreightAvailable(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "hotfix")
	test := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}}}
	prod := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: ns},
		Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}}}}
	require.NoError(t, env.Admin.Create(ctx, test))
	require.NoError(t, env.Admin.Create(ctx, prod))
	f := newFreight(ns, "3.0.1")
	require.NoError(t, env.Admin.Create(ctx, f))
	available := func(stage string) []string {
		var ids []string
		for _, a := range getStage(t, ns, stage).Status.AvailableFreight {
			ids = append(ids, a.ID)
		}
		return ids
	}
	kubetest.Eventually(t, 10*time.Second, "the new Freight available in test", func() (bool, string) {
		return slices.Contains(available("test"), f.Name), fmt.Sprint(available("test"))
	})
	require.Empty(t, available("prod"))

	got := getFreight(t, f)
	patch := client.MergeFrom(got.DeepCopy())
	got.Status.ApprovedFor = map[string]kargoapi.ApprovedStage{"prod": {}}
	require.NoError(t, env.Admin.Status().Patch(ctx, got, patch))
	kubetest.Eventually(t, 10*time.Second, "the approved Freight available in prod", func() (bool, string) {
		return slices.Contains(available("prod"), f.Name), fmt.Sprint(available("prod"))
	})

	got = getFreight(t, f)
	patch = client.MergeFrom(got.DeepCopy())
	got.Status.ApprovedFor = nil
	require.NoError(t, env.Admin.Status().Patch(ctx, got, patch))
	kubetest.Eventually(t, 10*time.Second, "the approval taken back", func() (bool, string) {
		return len(available("prod")) == 0, fmt.Sprint(available("prod"))
	})
}
