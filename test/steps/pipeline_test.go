package steps

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// pipelineSource is the main branch of the GitOps repository: a base (a
// suspended CronJob running nginx, which Argo CD deems Healthy without a
// kubelet, and a ConfigMap) and an overlay per Stage that differs by a
// name prefix and a ConfigMap of its own.
func pipelineSource(stages ...string) map[string]string {
	files := map[string]string{
		"base/kustomization.yaml": "resources:\n- cronjob.yaml\n- configmap.yaml\n",
		"base/cronjob.yaml": `apiVersion: batch/v1
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
`,
		"base/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n",
	}
	for _, st := range stages {
		files["stages/"+st+"/kustomization.yaml"] = fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namePrefix: %s-
resources:
- ../../base
configMapGenerator:
- name: stage
  literals:
  - name=%s
`, st, st)
	}
	return files
}

// pipelineStage is a Stage promoted by steps alone, as the Argo CD
// rendered-branch pattern does it: check out the source at the Freight's
// commit and the Stage's rendered branch, set the Freight's image in the
// Stage's overlay, render the overlay into the branch, commit, push, and
// have Argo CD sync the Application of the Stage to the pushed commit.
func pipelineStage(ns, name, repo string, subs kargoapi.Subscriptions) *kargoapi.Stage {
	st := objects.Stage(ns, name, objects.Subscriptions(subs))
	st.Spec.Vars = []kargoapi.ExpressionVariable{
		{Name: "gitRepo", Value: repo},
		{Name: "app", Value: "${{ ctx.project }}-${{ ctx.stage }}"},
	}
	st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
		stepsStep("git-clone", "clone", `{"repoURL": "${{ vars.gitRepo }}", "checkout": [
			{"commit": "${{ commitFrom(vars.gitRepo).ID }}", "path": "./src"},
			{"branch": "stages/${{ ctx.stage }}", "create": true, "path": "./out"}]}`),
		stepsStep("git-clear", "", `{"path": "./out"}`),
		stepsStep("kustomize-set-image", "update", `{"path": "./src/stages/${{ ctx.stage }}", "images": [{"image": "nginx"}]}`),
		stepsStep("kustomize-build", "render", `{"path": "./src/stages/${{ ctx.stage }}", "outPath": "./out/manifests.yaml"}`),
		stepsStep("git-commit", "commit", `{"path": "./out", "message": "${{ outputs.update.commitMessage }}"}`),
		stepsStep("git-push", "push", `{"path": "./out"}`),
		stepsStep("argocd-update", "", `{"apps": [{"name": "${{ vars.app }}", "sources": [
			{"repoURL": "${{ vars.gitRepo }}", "desiredRevision": "${{ outputs.push.commit }}", "updateTargetRevision": true}]}]}`),
	}}}
	return st
}

// Two Stages, test and uat, each promoted by steps only into a rendered
// branch stages/<name> that Argo CD deploys: the branch holds exactly what
// `kustomize build` makes of the source at the Freight's commit, Argo CD
// points at and syncs the pushed commit, and the Stage becomes healthy
// with the Freight current; uat takes the Freight once it is verified in
// test.
func TestStepsPipelineRendersBranchesThatArgoCDSyncs(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "steps-pipeline")
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	repo := gs.CreateRepo("gitops")
	src := gs.Commit(t, "gitops", "main", pipelineSource("test", "uat"), "layout")
	// main moves on after the commit the Freight carries: the steps must
	// render the Freight's commit, not main's head.
	gs.Commit(t, "gitops", "main", map[string]string{"base/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: red\n"}, "not yet promoted")

	for _, s := range []string{"test", "uat"} {
		stepsApplication(t, ns+"-"+s, ns, s, repo, "stages/"+s, ".")
	}
	require.NoError(t, env.Admin.Create(ctx, pipelineStage(ns, "test", repo, kargoapi.Subscriptions{Warehouse: objects.DefaultWarehouse})))
	require.NoError(t, env.Admin.Create(ctx, pipelineStage(ns, "uat", repo, kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}})))
	f := objects.Freight(ns, objects.Image("nginx", "1.25.1"), func(f *kargoapi.Freight) {
		f.Commits = []kargoapi.GitCommit{{RepoURL: repo, ID: src, Branch: "main"}}
	})
	require.NoError(t, env.Admin.Create(ctx, f))

	for _, stage := range []string{"test", "uat"} {
		if stage == "uat" {
			kubetest.Eventually(t, 90*time.Second, "Freight verified in test", func() (bool, string) {
				got := &kargoapi.Freight{}
				require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(f), got))
				_, ok := got.Status.VerifiedIn["test"]
				return ok, fmt.Sprintf("%+v", got.Status)
			})
		}
		p := stepsWaitEnd(t, ns, stepsPromote(t, ns, stage, f.Name), 2*time.Minute)
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
		require.Len(t, p.Status.Steps, 7, "every step recorded")
		for _, s := range p.Status.Steps {
			require.Equal(t, kargoapi.StepStatusSucceeded, s.Status, "step %s: %s", s.Alias, s.Message)
		}
		out := stepsOutputs(t, p)
		pushed := gs.BranchHead(t, "gitops", "stages/"+stage)
		require.Equal(t, pushed, out["push"]["commit"])
		require.Equal(t, "stages/"+stage, out["push"]["branch"])

		// The rendered branch is `kustomize build` of the overlay at the
		// Freight's commit, with the Freight's image set, and nothing else.
		log := gs.Log(t, "gitops", "stages/"+stage)
		require.Len(t, log, 1, "one commit on a new rendered branch")
		require.Equal(t, []string{"manifests.yaml"}, log[0].Files)
		require.Contains(t, log[0].Message, "Kargo-Freight: "+f.Name)
		require.Contains(t, log[0].Message, "Kargo-Stage: "+ns+"/"+stage)
		want := stepsKustomizeBuild(t, gs.Dir("gitops"), src, "stages/"+stage, []string{"set", "image", "nginx=nginx:1.25.1"})
		require.Equal(t, want, gs.Show(t, "gitops", "stages/"+stage, "manifests.yaml"), "the rendered branch is kustomize build of the source at the Freight's commit")
		require.Contains(t, want, "image: nginx:1.25.1")
		require.Contains(t, want, "color: blue", "the Freight's commit, not main's head")

		// Argo CD points at the pushed commit and syncs it; the Stage
		// becomes healthy with the Freight current.
		app := ns + "-" + stage
		kubetest.Eventually(t, 2*time.Minute, "Argo CD synced "+pushed[:8]+" and the Stage is healthy", func() (bool, string) {
			a := stepsApp(t, app)
			st := stepsStage(t, ns, stage)
			ok := a.Spec.Source.TargetRevision == pushed && a.Status.Sync.Revision == pushed &&
				a.Status.Sync.Status == argocdv1.SyncStatusSynced && a.Status.Health.Status == argocdv1.HealthStatusHealthy &&
				st.Status.Health != nil && st.Status.Health.Status == kargoapi.HealthStateHealthy &&
				st.Status.CurrentFreight != nil && st.Status.CurrentFreight.ID == f.Name
			return ok, fmt.Sprintf("app target %s sync %+v health %+v; stage health %+v current %+v",
				a.Spec.Source.TargetRevision, a.Status.Sync, a.Status.Health, st.Status.Health, st.Status.CurrentFreight)
		})
		cj := &batchv1.CronJob{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: app, Name: stage + "-app"}, cj))
		require.Equal(t, "nginx:1.25.1", cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image, "Argo CD deployed the promoted image")
		cms := &corev1.ConfigMapList{}
		require.NoError(t, env.Admin.List(ctx, cms, client.InNamespace(app)))
		var names []string
		for _, cm := range cms.Items {
			names = append(names, cm.Name)
		}
		require.Contains(t, strings.Join(names, " "), stage+"-stage-", "the Stage's own overlay was rendered")
	}
}
