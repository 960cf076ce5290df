package argocd

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	kargoargocd "github.com/kargohq/kargo/internal/argocd"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

func TestKustomizeImageOverride(t *testing.T) {
	project, apps := newNamespace(t, "project"), newNamespace(t, editsPrefix)
	createApp(t, apps, `{
	  "metadata": {"name": "guestbook", "annotations": `+authorized(project)+`},
	  "spec": {"source": {"repoURL": "`+gitRepo+`", "path": "stages/test", "targetRevision": "main",
	    "kustomize": {"namePrefix": "test-", "images": ["redis:7", "nginx=nginx:1.24.0"]}}}
	}`)
	u := &kargoargocd.Updater{Client: env.Admin, DefaultNamespace: apps}
	summary, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(project), []kargoapi.ArgoCDAppUpdate{{
		AppName: "guestbook",
		SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
			RepoURL:   gitRepo,
			Kustomize: &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "nginx"}}},
		}},
	}}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"updated Application " + apps + "/guestbook: image nginx=nginx:1.25.0, sync requested"}, summary)

	app := getRaw(t, apps, "guestbook")
	require.Equal(t, map[string]any{"namePrefix": "test-", "images": []any{"redis:7", "nginx=nginx:1.25.0"}},
		app.Object["spec"].(map[string]any)["source"].(map[string]any)["kustomize"])
	require.Equal(t, "hard", app.GetAnnotations()[kargoargocd.RefreshAnnotationKey])
	op := getApp(t, apps, "guestbook").Operation
	require.Equal(t, &argocdv1.Operation{
		Sync:        &argocdv1.SyncOperation{Revision: "main"},
		InitiatedBy: argocdv1.OperationInitiator{Username: "kargo"},
		Info:        []argocdv1.Info{{Name: "Reason", Value: "Promotion of Freight brave-eagle to Stage test"}},
	}, op)
}

func TestHelmParameters(t *testing.T) {
	project, apps := newNamespace(t, "project"), newNamespace(t, editsPrefix)
	createApp(t, apps, `{
	  "metadata": {"name": "guestbook", "annotations": `+authorized(project)+`},
	  "spec": {"source": {"repoURL": "`+chartRepo+`", "chart": "guestbook", "targetRevision": "1.3.0",
	    "helm": {"releaseName": "gb", "parameters": [{"name": "replicaCount", "value": "3"}, {"name": "image.tag", "value": "1.24.0"}]}}}
	}`)
	for _, tc := range []struct {
		key   string
		value kargoapi.ImageUpdateValue
		want  string
	}{
		{"image.repository", kargoapi.ImageUpdateValueImage, "nginx"},
		{"image.tag", kargoapi.ImageUpdateValueTag, "1.25.0"},
		{"image.full", kargoapi.ImageUpdateValueImageAndTag, "nginx:1.25.0"},
		{"image.digest", kargoapi.ImageUpdateValueDigest, "sha256:aaaa"},
		{"image.pinned", kargoapi.ImageUpdateValueImageAndDigest, "nginx@sha256:aaaa"},
	} {
		t.Run(string(tc.value), func(t *testing.T) {
			u := &kargoargocd.Updater{Client: env.Admin, DefaultNamespace: apps}
			_, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(project), []kargoapi.ArgoCDAppUpdate{{
				AppName: "guestbook",
				SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
					RepoURL: chartRepo,
					Chart:   "guestbook",
					Helm:    &kargoapi.ArgoCDHelm{Images: []kargoapi.ArgoCDHelmImageUpdate{{Image: "nginx", Key: tc.key, Value: tc.value}}},
				}},
			}}, nil)
			require.NoError(t, err)
			var got *argocdv1.HelmParameter
			for _, p := range getApp(t, apps, "guestbook").Spec.Source.Helm.Parameters {
				if p.Name == tc.key {
					got = &p
				}
			}
			require.Equal(t, &argocdv1.HelmParameter{Name: tc.key, Value: tc.want, ForceString: true}, got)
		})
	}
	// Every parameter is set once, in place or appended; the one kargo does
	// not set is kept, and so is the rest of the helm section.
	helm := getRaw(t, apps, "guestbook").Object["spec"].(map[string]any)["source"].(map[string]any)["helm"].(map[string]any)
	require.Equal(t, "gb", helm["releaseName"])
	names := []string{}
	for _, p := range helm["parameters"].([]any) {
		names = append(names, p.(map[string]any)["name"].(string))
	}
	require.Equal(t, []string{"replicaCount", "image.tag", "image.repository", "image.full", "image.digest", "image.pinned"}, names)
	require.Equal(t, map[string]any{"name": "replicaCount", "value": "3"}, helm["parameters"].([]any)[0])
}

func TestTargetRevision(t *testing.T) {
	project, apps := newNamespace(t, "project"), newNamespace(t, editsPrefix)
	for _, tc := range []struct {
		name   string
		source string
		update kargoapi.ArgoCDSourceUpdate
		heads  map[string]string
		want   string
	}{
		{
			name:   "git-from-heads",
			source: `{"repoURL": "` + gitRepo + `.git", "path": "stages/test", "targetRevision": "main"}`,
			update: kargoapi.ArgoCDSourceUpdate{RepoURL: gitRepo, UpdateTargetRevision: true},
			heads:  map[string]string{gitRepo + "/": pushedID},
			want:   pushedID,
		},
		{
			name:   "git-from-freight",
			source: `{"repoURL": "` + gitRepo + `", "path": "stages/test", "targetRevision": "main"}`,
			update: kargoapi.ArgoCDSourceUpdate{RepoURL: gitRepo, UpdateTargetRevision: true},
			want:   commitID,
		},
		{
			name:   "chart",
			source: `{"repoURL": "` + chartRepo + `", "chart": "guestbook", "targetRevision": "1.3.0"}`,
			update: kargoapi.ArgoCDSourceUpdate{RepoURL: chartRepo, Chart: "guestbook", UpdateTargetRevision: true},
			want:   "1.4.0",
		},
		{
			name:   "oci-chart",
			source: `{"repoURL": "ghcr.io/example/charts", "chart": "podinfo", "targetRevision": "6.4.0"}`,
			update: kargoapi.ArgoCDSourceUpdate{RepoURL: "ghcr.io/example/charts", Chart: "podinfo", UpdateTargetRevision: true},
			want:   "6.5.0",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			createApp(t, apps, `{"metadata": {"name": "`+tc.name+`", "annotations": `+authorized(project)+`}, "spec": {"source": `+tc.source+`}}`)
			u := &kargoargocd.Updater{Client: env.Admin, DefaultNamespace: apps}
			_, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(project), []kargoapi.ArgoCDAppUpdate{{
				AppName:       tc.name,
				SourceUpdates: []kargoapi.ArgoCDSourceUpdate{tc.update},
			}}, tc.heads)
			require.NoError(t, err)
			app := getApp(t, apps, tc.name)
			require.Equal(t, tc.want, app.Spec.Source.TargetRevision)
			require.Equal(t, tc.want, app.Operation.Sync.Revision)
		})
	}
}

// TestUnknownFieldsKept checks what the API server stores after kargo's
// merge patch: a merge patch replaces whole lists, so kargo must send back
// every field of the source entries it rewrites, known to it or not.
func TestUnknownFieldsKept(t *testing.T) {
	project, apps := newNamespace(t, "project"), newNamespace(t, editsPrefix)
	created := createApp(t, apps, `{
	  "metadata": {"name": "guestbook", "labels": {"team": "web"}, "annotations": `+authorized(project)+`},
	  "spec": {
	    "project": "default",
	    "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
	    "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]},
	    "revisionHistoryLimit": 5,
	    "sources": [
	      {"repoURL": "`+gitRepo+`", "targetRevision": "main", "ref": "values"},
	      {"repoURL": "`+gitRepo+`", "path": "app", "targetRevision": "main", "name": "app",
	       "directory": {"recurse": true},
	       "kustomize": {"namePrefix": "test-", "commonLabels": {"tier": "web"}, "images": ["nginx:1.24.0"]}},
	      {"repoURL": "`+chartRepo+`", "chart": "guestbook", "targetRevision": "1.3.0",
	       "helm": {"valueFiles": ["$values/guestbook.yaml"], "valuesObject": {"replicaCount": 2}}}
	    ]
	  },
	  "status": {"resources": [{"kind": "Deployment", "name": "guestbook"}], "sync": {"status": "Synced"}}
	}`)
	u := &kargoargocd.Updater{Client: env.Admin, DefaultNamespace: apps}
	_, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(project), []kargoapi.ArgoCDAppUpdate{{
		AppName: "guestbook",
		SourceUpdates: []kargoapi.ArgoCDSourceUpdate{
			{RepoURL: gitRepo, UpdateTargetRevision: true,
				Kustomize: &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "nginx", UseDigest: true}}}},
			{RepoURL: chartRepo, Chart: "guestbook", UpdateTargetRevision: true,
				Helm: &kargoapi.ArgoCDHelm{Images: []kargoapi.ArgoCDHelmImageUpdate{{Image: "nginx", Key: "image.tag", Value: kargoapi.ImageUpdateValueTag}}}},
		},
	}}, map[string]string{gitRepo: pushedID})
	require.NoError(t, err)

	got := getRaw(t, apps, "guestbook")
	spec, err := json.Marshal(got.Object["spec"])
	require.NoError(t, err)
	require.JSONEq(t, `{
	    "project": "default",
	    "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
	    "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]},
	    "revisionHistoryLimit": 5,
	    "sources": [
	      {"repoURL": "`+gitRepo+`", "targetRevision": "`+pushedID+`", "ref": "values"},
	      {"repoURL": "`+gitRepo+`", "path": "app", "targetRevision": "`+pushedID+`", "name": "app",
	       "directory": {"recurse": true},
	       "kustomize": {"namePrefix": "test-", "commonLabels": {"tier": "web"}, "images": ["nginx=nginx@sha256:aaaa"]}},
	      {"repoURL": "`+chartRepo+`", "chart": "guestbook", "targetRevision": "1.4.0",
	       "helm": {"valueFiles": ["$values/guestbook.yaml"], "valuesObject": {"replicaCount": 2},
	                "parameters": [{"name": "image.tag", "value": "1.25.0", "forceString": true}]}}
	    ]
	}`, string(spec))
	require.Equal(t, created.Object["status"], got.Object["status"])
	require.Equal(t, map[string]string{"team": "web"}, got.GetLabels())
	require.Equal(t, map[string]any{
		"sync":        map[string]any{"revisions": []any{pushedID, pushedID, "1.4.0"}, "syncOptions": []any{"CreateNamespace=true"}},
		"initiatedBy": map[string]any{"username": "kargo"},
		"info":        []any{map[string]any{"name": "Reason", "value": "Promotion of Freight brave-eagle to Stage test"}},
	}, got.Object["operation"])
}

func TestAnApplicationMustOptIn(t *testing.T) {
	project, apps := newNamespace(t, "project"), newNamespace(t, editsPrefix)
	for _, tc := range []struct {
		name        string
		annotations string
		msg         string
	}{
		{
			name:        "no-annotation",
			annotations: `{"team": "web"}`,
			msg:         `add the annotation kargo.akuity.io/authorized-stage: "` + project + `:test" to Application ` + apps + `/no-annotation`,
		},
		{
			name:        "another-stage",
			annotations: `{"kargo.akuity.io/authorized-stage": "` + project + `:prod"}`,
			msg:         `set its annotation kargo.akuity.io/authorized-stage to "` + project + `:test"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			created := createApp(t, apps, `{
			  "metadata": {"name": "`+tc.name+`", "annotations": `+tc.annotations+`},
			  "spec": {"source": {"repoURL": "`+gitRepo+`", "path": "stages/test", "targetRevision": "main"}}
			}`)
			u := &kargoargocd.Updater{Client: env.Admin, DefaultNamespace: apps}
			summary, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(project), []kargoapi.ArgoCDAppUpdate{{
				AppName:       tc.name,
				SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo, UpdateTargetRevision: true}},
			}}, nil)
			require.ErrorIs(t, err, sourceerr.ErrInvalid)
			require.ErrorContains(t, err, tc.msg)
			require.Empty(t, summary)
			got := getRaw(t, apps, tc.name)
			require.Equal(t, created.GetResourceVersion(), got.GetResourceVersion(), "nothing is written")
			require.NotContains(t, got.Object, "operation")
		})
	}
}
