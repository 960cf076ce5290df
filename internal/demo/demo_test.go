package demo

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

var src = Sources{Image: "127.0.0.1:7072/nginx", GitOps: "http://127.0.0.1:7071/kargo-demo-gitops.git"}

func TestObjectsAreThePipelineAndTheSeeds(t *testing.T) {
	objs, err := Objects(src)
	require.NoError(t, err)
	var got []string
	for _, o := range objs {
		require.Equal(t, Project, o.GetNamespace(), "%s %s", o.GetKind(), o.GetName())
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	require.Equal(t, []string{
		"Warehouse/kargo-demo", "Stage/test", "Stage/uat", "Stage/prod", "RoleBinding/bob-viewer",
		"RoleBinding/alice-promoter", "Role/uat-promoter", "RoleBinding/bob-uat-promoter", "PromotionPolicy/test",
	}, got)

	// The Stages decode strictly into the API's types: no field is
	// misspelt, and each writes to its own branch.
	for i, o := range objs[1:4] {
		raw, err := json.Marshal(o.Object)
		require.NoError(t, err)
		st := &kargoapi.Stage{}
		require.NoError(t, yaml.UnmarshalStrict(raw, st))
		u := st.Spec.PromotionMechanisms.GitRepoUpdates[0]
		require.Equal(t, "stages/"+Stages[i], string(u.WriteBranch))
		require.Equal(t, src.GitOps, string(u.RepoURL))
		require.Equal(t, src.Image, string(u.Kustomize.Images[0].Image))
		require.Equal(t, "stages/"+Stages[i]+"/values.yaml", string(u.Helm.Images[0].ValuesFilePath))
		if i == 0 {
			require.Equal(t, Warehouse, st.Spec.Subscriptions.Warehouse)
		} else {
			require.Equal(t, Stages[i-1], st.Spec.Subscriptions.UpstreamStages[0].Name)
		}
	}
	raw, err := json.Marshal(objs[0].Object)
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(raw, &kargoapi.Warehouse{}))
}

func TestGitOpsFilesHoldEachStagesOverlayAndValues(t *testing.T) {
	files, err := GitOpsFiles(src)
	require.NoError(t, err)
	require.Contains(t, files, "base/app.yaml")
	require.Contains(t, files["base/app.yaml"], "image: 127.0.0.1:7072/nginx:1.24.0")
	require.Contains(t, files["base/app.yaml"], "suspend: true", "a CronJob that never runs: there is no kubelet")
	for _, s := range Stages {
		k := files["stages/"+s+"/kustomization.yaml"]
		require.Contains(t, k, "- ../../base")
		require.Contains(t, k, "name: 127.0.0.1:7072/nginx")
		var v struct {
			Image struct{ Repository, Tag string }
		}
		require.NoError(t, yaml.Unmarshal([]byte(files["stages/"+s+"/values.yaml"]), &v))
		require.Equal(t, "127.0.0.1:7072/nginx", v.Image.Repository)
		require.Equal(t, "1.24.0", v.Image.Tag)
	}
}

// With Argo CD, each Stage also points an Application (one per Stage, in
// argocd, letting only that Stage change it) at the commit it made.
func TestWithArgoCDEachStageUpdatesItsApplication(t *testing.T) {
	withArgo := src
	withArgo.ArgoCDServer = "https://127.0.0.1:6443"
	objs, err := Objects(withArgo)
	require.NoError(t, err)
	apps := map[string]map[string]any{}
	for _, o := range objs {
		switch o.GetKind() {
		case "Application":
			require.Equal(t, "argocd", o.GetNamespace())
			apps[o.GetName()] = o.Object
		case "Stage":
			raw, err := json.Marshal(o.Object)
			require.NoError(t, err)
			st := &kargoapi.Stage{}
			require.NoError(t, yaml.UnmarshalStrict(raw, st))
			u := st.Spec.PromotionMechanisms.ArgoCDAppUpdates
			require.Len(t, u, 1)
			require.Equal(t, "kargo-demo-"+st.Name, u[0].AppName)
			require.True(t, u[0].SourceUpdates[0].UpdateTargetRevision)
		}
	}
	require.Len(t, apps, len(Stages))
	for _, s := range Stages {
		app := apps["kargo-demo-"+s]
		require.NotNil(t, app, s)
		meta := app["metadata"].(map[string]any)
		require.Equal(t, Project+":"+s, meta["annotations"].(map[string]any)[kargoapi.AuthorizedStageAnnotationKey])
		spec := app["spec"].(map[string]any)
		require.Equal(t, withArgo.ArgoCDServer, spec["destination"].(map[string]any)["server"])
		require.Equal(t, "stages/"+s, spec["source"].(map[string]any)["path"])
	}

	objs, err = Objects(src)
	require.NoError(t, err)
	for _, o := range objs {
		require.NotEqual(t, "Application", o.GetKind(), "no Application without Argo CD")
	}
}
