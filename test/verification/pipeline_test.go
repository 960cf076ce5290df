package verification

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/metricstest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// gitopsRepo starts a Git server with a repository whose main branch has,
// for each Stage, a kustomize folder stages/<stage>: a suspended CronJob
// running nginx, whose image kargo's kustomize update sets and which Argo
// CD deems Healthy without a kubelet, and a ConfigMap whose health the
// test chooses (health[stage], Healthy when unset; see
// kubetest.ArgoCDHealthSetting). The controllers may reach the server.
func gitopsRepo(t testing.TB, health map[string]string, stages ...string) (*gitserver.Server, string) {
	t.Helper()
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	files := map[string]string{}
	for _, st := range stages {
		h := health[st]
		if h == "" {
			h = "Healthy"
		}
		files["stages/"+st+"/kustomization.yaml"] = "resources:\n- app.yaml\n"
		files["stages/"+st+"/app.yaml"] = fmt.Sprintf(`apiVersion: batch/v1
kind: CronJob
metadata:
  name: app
spec:
  schedule: "0 0 1 1 *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: nginx
            image: nginx:1.24.0
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: health
data:
  health: %q
  message: "0/3 replicas ready"
`, h)
	}
	gs.Commit(t, "gitops", "main", files, "layout")
	controllers.AllowOutbound(t, gs.Host())
	return gs, gs.RepoURL("gitops")
}

// application creates an Argo CD Application in argocd that lets
// project:stage change it and deploys stages/<stage> of repo into the
// namespace of the Application's own name, creating it.
func application(t testing.TB, name, project, stage, repo string) {
	t.Helper()
	app := &unstructured.Unstructured{}
	require.NoError(t, json.Unmarshal([]byte(fmt.Sprintf(`{
	  "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	  "metadata": {"name": %q, "namespace": "argocd", "annotations": {%q: "%s:%s"}},
	  "spec": {"project": "default",
	    "destination": {"server": %q, "namespace": %q},
	    "source": {"repoURL": %q, "path": "stages/%s", "targetRevision": "main"},
	    "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}
	}`, name, kargoapi.AuthorizedStageAnnotationKey, project, stage, env.ArgoCD.Server, name, repo, stage)), &app.Object))
	require.NoError(t, env.Admin.Create(context.Background(), app))
}

// argoStage is a Stage promoting as the seed pages show: it commits the
// Freight's nginx image to its own branch stages/<name> of repo (a
// kustomize image), then points Application app at that commit and has
// Argo CD sync it.
func argoStage(ns, name, app, repo string, subs kargoapi.Subscriptions) *kargoapi.Stage {
	return &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &subs,
			PromotionMechanisms: &kargoapi.PromotionMechanisms{
				GitRepoUpdates: []kargoapi.GitRepoUpdate{{
					RepoURL: kargoapi.GitRepoURL(repo), ReadBranch: "main", WriteBranch: kargoapi.BranchName("stages/" + name),
					Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{
						Image: "nginx", Path: kargoapi.RepoPath("stages/" + name),
					}}},
				}},
				ArgoCDAppUpdates: []kargoapi.ArgoCDAppUpdate{{
					AppName:       app,
					SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: repo, UpdateTargetRevision: true}},
				}},
			},
		},
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
	gs, repo := gitopsRepo(t, nil, "test", "uat", "prod")

	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer broken.Close()
	controllers.AllowOutbound(t, broken.Listener.Addr().String())

	for _, s := range []string{"test", "uat", "prod"} {
		application(t, ns+"-"+s, ns, s, repo)
	}
	test := argoStage(ns, "test", ns+"-test", repo, kargoapi.Subscriptions{Warehouse: "w"})
	uat := argoStage(ns, "uat", ns+"-uat", repo, kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}})
	uat.Spec.Verification = &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{{
		Name: "smoke", URL: broken.URL + "/healthz", Count: 2, Interval: &metav1.Duration{Duration: 100 * time.Millisecond},
	}}}
	prod := argoStage(ns, "prod", ns+"-prod", repo, kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "uat"}}})
	for _, st := range []*kargoapi.Stage{test, uat, prod} {
		require.NoError(t, env.Admin.Create(ctx, st))
	}
	hotfix := objects.Freight(ns, objects.Image("nginx", "1.25.1"))
	require.NoError(t, env.Admin.Create(ctx, hotfix))

	// test: kargo commits the image to stages/test and points the
	// Application at that commit; Argo CD syncs it, and once Argo CD
	// reports it Healthy at that revision, the Freight is verified there.
	p := promote(t, ns, "test", hotfix)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	pushed := strings.TrimSpace(gs.Git(t, "gitops", "", "rev-parse", "stages/test"))
	require.Contains(t, gs.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "newTag: 1.25.1")
	app := &unstructured.Unstructured{}
	app.SetAPIVersion("argoproj.io/v1alpha1")
	app.SetKind("Application")
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: "argocd", Name: ns + "-test"}, app))
	rev, _, _ := unstructured.NestedString(app.Object, "spec", "source", "targetRevision")
	require.Equal(t, pushed, rev, "the Application points at kargo's commit")
	// The Freight is marked verified before the pass that did it writes
	// the Stage's status: wait for both.
	kubetest.Eventually(t, 90*time.Second, "verified in test, and test healthy", func() (bool, string) {
		f := getFreight(t, hotfix)
		_, ok := f.Status.VerifiedIn["test"]
		st := getStage(t, ns, "test")
		healthy := st.Status.Health != nil && st.Status.Health.Status == kargoapi.HealthStateHealthy
		return ok && healthy, fmt.Sprintf("freight %+v; stage health %+v verification %+v", f.Status, st.Status.Health, st.Status.Verification)
	})
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: "argocd", Name: ns + "-test"}, app))
	synced, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision")
	require.Equal(t, pushed, synced, "Argo CD synced kargo's commit")
	// The Stage reports the Application as Argo CD does.
	require.Equal(t, []kargoapi.ApplicationHealth{{
		Namespace: "argocd", Name: ns + "-test", Status: kargoapi.HealthStateHealthy,
		HealthStatus: "Healthy", SyncStatus: "Synced", Revisions: []string{pushed},
	}}, getStage(t, ns, "test").Status.Health.Applications)
	cj := &batchv1.CronJob{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns + "-test", Name: "app"}, cj))
	require.Equal(t, "nginx:1.25.1", cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image, "Argo CD deployed the promoted image")

	// uat: healthy, but the smoke check fails, so the Freight stays
	// unverified there and the Stage says why.
	p = promote(t, ns, "uat", hotfix)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	kubetest.Eventually(t, 90*time.Second, "uat's verification fails", func() (bool, string) {
		st := getStage(t, ns, "uat")
		v := st.Status.Verification
		return v != nil && v.Phase == kargoapi.VerificationPhaseFailed, fmt.Sprintf("%+v", v)
	})
	st := getStage(t, ns, "uat")
	require.Equal(t, kargoapi.StagePhaseFailed, st.Status.Phase)
	require.Contains(t, st.Status.Verification.Message, "503")
	require.NotContains(t, getFreight(t, hotfix).Status.VerifiedIn, "uat")
	// The verification metrics saw one run in uat, ended Failed after
	// its two checks, and test's health-only verification succeed.
	uatRun := map[string]string{"project": ns, "stage": "uat"}
	require.Equal(t, 1.0, metricstest.Value(t, "kargo_verifications_started_total", uatRun))
	uatRun["outcome"] = string(kargoapi.VerificationPhaseFailed)
	require.Equal(t, 1.0, metricstest.Value(t, "kargo_verifications_finished_total", uatRun))
	require.Equal(t, 1.0, metricstest.Value(t, "kargo_verification_duration_seconds", uatRun))
	require.GreaterOrEqual(t, metricstest.Value(t, "kargo_verifications_finished_total",
		map[string]string{"project": ns, "stage": "test", "outcome": string(kargoapi.VerificationPhaseSuccessful)}), 1.0)

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
	kubetest.Eventually(t, 90*time.Second, "verified in prod", func() (bool, string) {
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
	_, repo := gitopsRepo(t, map[string]string{"test": "Degraded"}, "test")
	application(t, ns+"-test", ns, "test", repo)
	require.NoError(t, env.Admin.Create(ctx, argoStage(ns, "test", ns+"-test", repo, kargoapi.Subscriptions{Warehouse: "w"})))
	f := objects.Freight(ns, objects.Image("nginx", "1.26.0"))
	require.NoError(t, env.Admin.Create(ctx, f))
	p := promote(t, ns, "test", f)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	// (Missing, before Argo CD has applied anything, is Unhealthy too:
	// wait for what Argo CD says once the sync is done.)
	kubetest.Eventually(t, 90*time.Second, "test is Degraded", func() (bool, string) {
		h := getStage(t, ns, "test").Status.Health
		return h != nil && h.Status == kargoapi.HealthStateUnhealthy && len(h.Issues) == 1 &&
			strings.Contains(h.Issues[0], "is Degraded: Caused by ConfigMap:"+ns+"-test/health"), fmt.Sprintf("%+v", h)
	})
	require.Empty(t, getFreight(t, f).Status.VerifiedIn)

	require.NoError(t, env.Admin.Create(ctx, argoStage(ns, "ghost", ns+"-ghost", repo, kargoapi.Subscriptions{Warehouse: "w"})))
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
	f := objects.Freight(ns, objects.Image("nginx", "2.0.0"))
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
	f := objects.Freight(ns, objects.Image("nginx", "3.0.1"))
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
