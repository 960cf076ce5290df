// Package argocd tests kargo's Argo CD updates and health against a real
// kube-apiserver and a real Argo CD (application-controller and
// repo-server, built by hack/argocd-bins.sh) deploying into it from a real
// Git server: what the API server keeps of kargo's merge patches (in
// namespaces Argo CD does not watch, so that the patches stay as kargo
// wrote them), and what Argo CD makes of them (in apps-* namespaces, which
// it watches): the objects it deploys, the syncs it runs and the health it
// reports, which becomes the Stage's.
package argocd

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env, kubetest.WithArgoCD) }

// editsPrefix names the namespaces of Applications that only the tests of
// kargo's edits use: Argo CD takes Applications from apps-* only.
const editsPrefix = "edits"

const (
	stageName = "test"
	gitRepo   = "https://git.example.com/example/gitops"
	chartRepo = "https://charts.example.com"
	commitID  = "1111111111111111111111111111111111111111"
	pushedID  = "2222222222222222222222222222222222222222"
)

// newNamespace creates a namespace unique to the test, for its Applications
// or its Stage. Namespaces are not deleted: envtest runs no namespace
// controller.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	require.NoError(t, env.Admin.Create(context.Background(), ns))
	return ns.Name
}

func testFreight(project string) *kargoapi.Freight {
	return &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "3f2a1b0c3f2a1b0c3f2a1b0c3f2a1b0c3f2a1b0c"},
		Alias:      "brave-eagle",
		Commits:    []kargoapi.GitCommit{{RepoURL: gitRepo, ID: commitID}},
		Images:     []kargoapi.Image{{RepoURL: "nginx", Tag: "1.25.0", Digest: "sha256:aaaa"}},
		Charts: []kargoapi.Chart{
			{RepoURL: chartRepo, Name: "guestbook", Version: "1.4.0"},
			{RepoURL: "oci://ghcr.io/example/charts/podinfo", Version: "6.5.0"},
		},
	}
}

// createApp creates an Application from its JSON document, which may carry
// fields kargo's types do not know, in namespace ns, and returns the
// document as stored. A document without spec.project or
// spec.destination (which Argo CD's CRD requires) gets the default
// project and the API server itself.
func createApp(t *testing.T, ns, doc string) *unstructured.Unstructured {
	t.Helper()
	app := &unstructured.Unstructured{}
	require.NoError(t, json.Unmarshal([]byte(doc), &app.Object))
	spec, _ := app.Object["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		app.Object["spec"] = spec
	}
	if _, ok := spec["project"]; !ok {
		spec["project"] = "default"
	}
	if _, ok := spec["destination"]; !ok {
		spec["destination"] = map[string]any{"server": env.ArgoCD.Server, "namespace": "default"}
	}
	app.SetGroupVersionKind(argocdv1.GroupVersion.WithKind("Application"))
	app.SetNamespace(ns)
	require.NoError(t, env.Admin.Create(context.Background(), app))
	return app
}

// authorized returns the annotations that let the test Stage of project
// change an Application, as a JSON object.
func authorized(project string) string {
	raw, _ := json.Marshal(map[string]string{kargoapi.AuthorizedStageAnnotationKey: project + ":" + stageName})
	return string(raw)
}

func getRaw(t *testing.T, ns, name string) *unstructured.Unstructured {
	t.Helper()
	app := &unstructured.Unstructured{}
	app.SetGroupVersionKind(argocdv1.GroupVersion.WithKind("Application"))
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, app))
	return app
}

func getApp(t *testing.T, ns, name string) *argocdv1.Application {
	t.Helper()
	app := &argocdv1.Application{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, app))
	return app
}
