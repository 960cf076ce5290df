package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// stepsStep is a promotion step using uses, aliased as (may be ""), with
// cfg (JSON) as its configuration.
func stepsStep(uses, as, cfg string) kargoapi.PromotionStep {
	return kargoapi.PromotionStep{Uses: uses, As: as, Config: &kargoapi.StepConfig{Raw: []byte(cfg)}}
}

// stepsPromote creates a Promotion of Freight f into stage as the admin and
// returns its name.
func stepsPromote(t *testing.T, ns, stage, freight string) string {
	t.Helper()
	p := objects.Promotion(ns, "", stage, freight)
	p.GenerateName = stage + "-"
	require.NoError(t, env.Admin.Create(context.Background(), p))
	return p.Name
}

// stepsPromotion reads Promotion name of ns.
func stepsPromotion(t *testing.T, ns, name string) *kargoapi.Promotion {
	t.Helper()
	p := &kargoapi.Promotion{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, p))
	return p
}

// stepsWaitEnd waits until Promotion name of ns ends and returns it.
func stepsWaitEnd(t *testing.T, ns, name string, timeout time.Duration) *kargoapi.Promotion {
	t.Helper()
	var p *kargoapi.Promotion
	kubetest.Eventually(t, timeout, "Promotion "+name+" ends", func() (bool, string) {
		p = stepsPromotion(t, ns, name)
		return p.Status.Phase.IsTerminal(), fmt.Sprintf("%s (step %d): %s", p.Status.Phase, p.Status.CurrentStep, p.Status.Message)
	})
	return p
}

func stepsStage(t *testing.T, ns, name string) *kargoapi.Stage {
	t.Helper()
	st := &kargoapi.Stage{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, st))
	return st
}

// stepsOutputs decodes a Promotion's step outputs, by alias.
func stepsOutputs(t *testing.T, p *kargoapi.Promotion) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	if p.Status.State != nil {
		require.NoError(t, json.Unmarshal(p.Status.State.Raw, &out))
	}
	return out
}

// stepsApplication creates an Argo CD Application name in argocd that lets
// project:stage change it and deploys path of branch of repo into the
// namespace of its own name, creating it. Argo CD syncs it only when kargo
// asks.
func stepsApplication(t *testing.T, name, project, stage, repo, branch, path string) {
	t.Helper()
	app := &unstructured.Unstructured{}
	require.NoError(t, json.Unmarshal([]byte(fmt.Sprintf(`{
	  "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	  "metadata": {"name": %q, "namespace": "argocd", "annotations": {%q: "%s:%s"}},
	  "spec": {"project": "default",
	    "destination": {"server": %q, "namespace": %q},
	    "source": {"repoURL": %q, "path": %q, "targetRevision": %q},
	    "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}
	}`, name, kargoapi.AuthorizedStageAnnotationKey, project, stage, env.ArgoCD.Server, name, repo, path, branch)), &app.Object))
	require.NoError(t, env.Admin.Create(context.Background(), app))
}

func stepsApp(t *testing.T, name string) *argocdv1.Application {
	t.Helper()
	app := &argocdv1.Application{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: "argocd", Name: name}, app))
	return app
}

// stepsKustomizeBuild checks out commit of the bare repository gitDir,
// runs `kustomize edit` with each of edits in dir (such as "set", "image",
// "nginx=nginx:1.25.1"), and returns what `kustomize build dir` prints. It
// runs the kustomize binary of Argo CD's repo-server (built by
// hack/argocd-bins.sh at kustomize v5.8.1, the version of the library that
// kargo's kustomize-build step links), not kargo's code.
func stepsKustomizeBuild(t *testing.T, gitDir, commit, dir string, edits ...[]string) string {
	t.Helper()
	work := t.TempDir()
	for _, args := range [][]string{
		{"clone", "-q", "--no-checkout", gitDir, work},
		{"-C", work, "-c", "advice.detachedHead=false", "checkout", "-q", commit},
	} {
		out, err := exec.Command("git", args...).CombinedOutput()
		require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	}
	bins, err := kubetest.ArgoCDBinDir()
	require.NoError(t, err)
	kustomize := filepath.Join(bins, "kustomize")
	at := filepath.Join(work, filepath.FromSlash(dir))
	for _, e := range edits {
		cmd := exec.Command(kustomize, append([]string{"edit"}, e...)...)
		cmd.Dir = at
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "kustomize edit %s: %s", strings.Join(e, " "), out)
	}
	cmd := exec.Command(kustomize, "build", at)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "kustomize build %s: %s", dir, stderr.String())
	return string(out)
}
