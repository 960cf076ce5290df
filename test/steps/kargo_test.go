package steps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// kargoManifest is a PromotionTask and a Stage written in Kargo's syntax,
// after Kargo's quickstart and its Promotion Tasks reference: template vars,
// a task whose inputs without defaults the template's vars give, ctx.stage
// in paths and branches, imageFrom and commitFrom, task.outputs between the
// task's steps, and the task's compose-output read by the template as
// outputs.<task step's alias>. Only the project, the repository's address
// and the Application's name are filled in.
const kargoManifest = `apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionTask
metadata:
  name: render-stage
  namespace: {PROJECT}
spec:
  vars:
  - name: gitopsRepo
  - name: imageRepo
  - name: srcPath
    value: ./src
  - name: outPath
    value: ./out
  steps:
  - uses: git-clone
    config:
      repoURL: ${{ vars.gitopsRepo }}
      checkout:
      - commit: ${{ commitFrom(vars.gitopsRepo).ID }}
        path: ${{ vars.srcPath }}
      - branch: stage/${{ ctx.stage }}
        create: true
        path: ${{ vars.outPath }}
  - uses: git-clear
    config:
      path: ${{ vars.outPath }}
  - uses: kustomize-set-image
    as: update-image
    config:
      path: ${{ vars.srcPath }}/stages/${{ ctx.stage }}
      images:
      - image: ${{ vars.imageRepo }}
        tag: ${{ imageFrom(vars.imageRepo).Tag }}
  - uses: kustomize-build
    config:
      path: ${{ vars.srcPath }}/stages/${{ ctx.stage }}
      outPath: ${{ vars.outPath }}
  - uses: git-commit
    as: commit
    config:
      path: ${{ vars.outPath }}
      message: ${{ task.outputs['update-image'].commitMessage }}
  - uses: git-push
    as: push
    config:
      path: ${{ vars.outPath }}
  - uses: compose-output
    as: result
    config:
      commit: ${{ task.outputs.push.commit }}
      branch: ${{ task.outputs.push.branch }}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: test
  namespace: {PROJECT}
  annotations:
    kargo.akuity.io/color: red
spec:
  requestedFreight:
  - origin:
      kind: Warehouse
      name: kargo-demo
    sources:
      direct: true
  promotionTemplate:
    spec:
      vars:
      - name: gitopsRepo
        value: {REPO}
      - name: imageRepo
        value: nginx
      steps:
      - task:
          name: render-stage
        as: render
      - uses: argocd-update
        config:
          apps:
          - name: {APP}
            sources:
            - repoURL: ${{ vars.gitopsRepo }}
              desiredRevision: ${{ outputs.render.commit }}
`

// A Stage and a PromotionTask in Kargo's syntax apply with kubectl as they
// are and promote: the task renders the Stage's branch, and Argo CD syncs
// the commit the task's output names.
func TestStepsKargoManifestAppliesAndPromotes(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "steps-kargo")
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	repo := gs.CreateRepo("gitops")
	src := gs.Commit(t, "gitops", "main", pipelineSource("test"), "layout")
	app := ns + "-test"
	stepsApplication(t, app, ns, "test", repo, "stage/test", ".")

	manifest := strings.NewReplacer("{PROJECT}", ns, "{REPO}", repo, "{APP}", app).Replace(kargoManifest)
	file := filepath.Join(t.TempDir(), "kargo.yaml")
	require.NoError(t, os.WriteFile(file, []byte(manifest), 0o600))
	out, err := env.Kubectl("apply", "-f", file)
	require.NoError(t, err, out)
	require.Contains(t, out, "promotiontask.kargo.akuity.io/render-stage created")
	require.Contains(t, out, "stage.kargo.akuity.io/test created")

	f := objects.Freight(ns, objects.FromWarehouse("kargo-demo"), objects.Image("nginx", "1.25.1"), func(f *kargoapi.Freight) {
		f.Commits = []kargoapi.GitCommit{{RepoURL: repo, ID: src, Branch: "main"}}
	})
	require.NoError(t, env.Admin.Create(ctx, f))
	name := stepsPromote(t, ns, "test", f.Name)
	p := stepsWaitEnd(t, ns, name, 2*time.Minute)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	var aliases []string
	for _, s := range p.Status.Steps {
		aliases = append(aliases, s.Alias)
	}
	require.Equal(t, []string{"render::step-1", "render::step-2", "render::update-image", "render::step-4", "render::commit",
		"render::push", "render::result", "step-8"}, aliases, "the task's steps, run in its place")

	pushed := gs.BranchHead(t, "gitops", "stage/test")
	outputs := stepsOutputs(t, p)
	require.Equal(t, map[string]any{"commit": pushed, "branch": "stage/test"}, outputs["render"], "the task's outputs, under its step's alias")
	log := gs.Log(t, "gitops", "stage/test")
	require.Len(t, log, 1)
	require.Contains(t, log[0].Message, "1.25.1", "the commit message is kustomize-set-image's, read through task.outputs")
	var all []string
	for _, file := range log[0].Files {
		all = append(all, gs.Show(t, "gitops", "stage/test", file))
	}
	require.Contains(t, strings.Join(all, "\n"), "image: nginx:1.25.1")

	kubetest.Eventually(t, 2*time.Minute, "Argo CD synced "+pushed[:8]+" and the Stage is healthy", func() (bool, string) {
		a := stepsApp(t, app)
		st := stepsStage(t, ns, "test")
		ok := a.Status.Sync.Revision == pushed && a.Status.Sync.Status == argocdv1.SyncStatusSynced &&
			st.Status.Health != nil && st.Status.Health.Status == kargoapi.HealthStateHealthy &&
			st.Status.CurrentFreight != nil && st.Status.CurrentFreight.ID == f.Name
		return ok, fmt.Sprintf("app sync %+v health %+v; stage health %+v current %+v", a.Status.Sync, a.Status.Health, st.Status.Health, st.Status.CurrentFreight)
	})
	cj := &batchv1.CronJob{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: app, Name: "test-app"}, cj))
	require.Equal(t, "nginx:1.25.1", cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image)

	// Applied again unchanged, kubectl finds nothing to change.
	out, err = env.Kubectl("apply", "-f", file)
	require.NoError(t, err, out)
	require.Contains(t, out, "stage.kargo.akuity.io/test unchanged")
}
