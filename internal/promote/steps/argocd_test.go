package steps

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/argocd"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

const gitopsRepo = "https://git.example.com/example/gitops"

func argoApp(name, stage string) *argocdv1.Application {
	return &argocdv1.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: argocd.DefaultNamespace, Name: name, Annotations: map[string]string{kargoapi.AuthorizedStageAnnotationKey: "demo:" + stage}},
		Spec:       argocdv1.ApplicationSpec{Source: &argocdv1.ApplicationSource{RepoURL: gitopsRepo, Path: "stages/test", TargetRevision: "stages/test"}},
	}
}

func argoStep(t *testing.T, objs ...client.Object) (engine.Step, client.Client, *engine.StepContext) {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, kargoapi.AddToScheme(s))
	require.NoError(t, argocdv1.AddToScheme(s))
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	st := objects.Stage("demo", "test")
	sc := &engine.StepContext{WorkDir: t.TempDir(), Project: "demo", Stage: "test", StageObject: st,
		Freight: []*kargoapi.Freight{objects.Freight("demo", objects.Image("nginx", "1.26.0"))}}
	return New(Deps{ArgoCD: &argocd.Updater{Client: c}})[argocd.StepName], c, sc
}

func runWith(t *testing.T, step engine.Step, sc *engine.StepContext, cfg string) (engine.Result, error) {
	t.Helper()
	var c engine.Config
	require.NoError(t, json.Unmarshal([]byte(cfg), &c))
	return step.Run(context.Background(), sc, c)
}

func TestArgoCDUpdate(t *testing.T) {
	step, c, sc := argoStep(t, argoApp("app-test", "test"), argoApp("app-prod", "prod"))
	res, err := runWith(t, step, sc, `{"apps": [{"name": "app-test", "sources": [{"repoURL": "`+gitopsRepo+`.git", "desiredRevision": "abc123", "updateTargetRevision": true}]}]}`)
	require.NoError(t, err)
	require.Contains(t, res.Message, "argocd/app-test")
	app := &argocdv1.Application{}
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "argocd", Name: "app-test"}, app))
	require.Equal(t, "abc123", app.Spec.Source.TargetRevision, "the source of the same repository, however spelt, points at the desired revision")

	_, err = runWith(t, step, sc, `{"apps": [{"name": "app-prod"}]}`)
	require.ErrorContains(t, err, "kargo.akuity.io/authorized-stage", "an Application that does not opt in to the Stage is not touched")
	_, err = runWith(t, step, sc, `{"apps": [{"selector": {"matchLabels": {"a": "b"}}}]}`)
	require.ErrorContains(t, err, "not supported by this kargo yet")
	_, err = runWith(t, step, sc, `{"apps": [{"name": "app-test", "sources": [{"repoURL": "x", "updateTargetRevision": true}]}]}`)
	require.ErrorContains(t, err, "updateTargetRevision needs desiredRevision")
	_, err = runWith(t, New(Deps{})[argocd.StepName], sc, `{"apps": [{"name": "app-test"}]}`)
	require.ErrorContains(t, err, "started without Argo CD support")
}

// A Stage whose process is steps is healthy by the Applications its
// argocd-update steps name, with names from ctx and vars.
func TestUpdatesOfAStageWithSteps(t *testing.T) {
	st := objects.Stage("demo", "test")
	st.Spec.Vars = []kargoapi.ExpressionVariable{{Name: "ns", Value: "apps"}}
	st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
		{Uses: "git-push"},
		{Uses: argocd.StepName, Config: &kargoapi.StepConfig{Raw: []byte(`{"apps": [{"name": "app-${{ ctx.stage }}", "namespace": "${{ vars.ns }}"}, {"name": "${{ outputs.x.name }}"}]}`)}},
	}}}
	require.Equal(t, []kargoapi.ArgoCDAppUpdate{{AppName: "app-test", AppNamespace: "apps"}}, argocd.Updates(st), "a name that needs outputs is left out")
}
