package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

const (
	project   = "kargo-demo"
	stageName = "test"
	gitRepo   = "https://git.example.com/example/gitops"
	chartRepo = "https://charts.example.com"
	commitID  = "1111111111111111111111111111111111111111"
	pushedID  = "2222222222222222222222222222222222222222"
)

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, kargoapi.AddToScheme(s))
	require.NoError(t, argocdv1.AddToScheme(s))
	return s
}

func testFreight() *kargoapi.Freight {
	return &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "3f2a1b0c3f2a1b0c3f2a1b0c3f2a1b0c3f2a1b0c"},
		Alias:      "brave-eagle",
		Commits:    []kargoapi.GitCommit{{RepoURL: gitRepo, ID: commitID}},
		Images: []kargoapi.Image{
			{RepoURL: "nginx", Tag: "1.25.0", Digest: "sha256:aaaa"},
			{RepoURL: "ghcr.io/example/app", Tag: "v2"},
			{RepoURL: "ghcr.io/example/pinned", Digest: "sha256:bbbb"},
		},
		Charts: []kargoapi.Chart{
			{RepoURL: chartRepo, Name: "guestbook", Version: "1.4.0"},
			{RepoURL: "oci://ghcr.io/example/charts/podinfo", Version: "6.5.0"},
		},
	}
}

// application returns an Application in the argocd namespace that lets the
// test Stage change it, with one Git source.
func application(name string, mutate ...func(*argocdv1.Application)) *argocdv1.Application {
	app := &argocdv1.Application{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   DefaultNamespace,
			Name:        name,
			Annotations: map[string]string{kargoapi.AuthorizedStageAnnotationKey: project + ":" + stageName},
		},
		Spec: argocdv1.ApplicationSpec{
			Source: &argocdv1.ApplicationSource{RepoURL: gitRepo, Path: "stages/test", TargetRevision: "main"},
		},
	}
	for _, m := range mutate {
		m(app)
	}
	return app
}

func newClient(t *testing.T, objs ...client.Object) client.WithWatch {
	t.Helper()
	return fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).Build()
}

func getApp(t *testing.T, c client.Client, name string) *argocdv1.Application {
	t.Helper()
	app := &argocdv1.Application{}
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: DefaultNamespace, Name: name}, app))
	return app
}

func TestApplyKustomizeImage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		useDigest bool
		existing  []string
		want      []string
	}{
		{name: "by tag, appended", want: []string{"nginx=nginx:1.25.0"}},
		{name: "by digest, appended", useDigest: true, want: []string{"nginx=nginx@sha256:aaaa"}},
		{
			name:     "replaces the entry for the image and keeps others",
			existing: []string{"redis:7", "nginx=nginx:1.24.0"},
			want:     []string{"redis:7", "nginx=nginx:1.25.0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, application("guestbook", func(a *argocdv1.Application) {
				if tc.existing != nil {
					a.Spec.Source.Kustomize = &argocdv1.ApplicationSourceKustomize{Images: tc.existing}
				}
			}))
			u := &Updater{Client: c}
			summary, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{
				AppName: "guestbook",
				SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
					RepoURL:   gitRepo,
					Kustomize: &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "nginx", UseDigest: tc.useDigest}}},
				}},
			}}, nil)
			require.NoError(t, err)
			app := getApp(t, c, "guestbook")
			require.Equal(t, tc.want, app.Spec.Source.Kustomize.Images)
			require.Equal(t, []string{"updated Application argocd/guestbook: image " + tc.want[len(tc.want)-1] + ", sync requested"}, summary)
			require.Equal(t, "main", app.Spec.Source.TargetRevision, "targetRevision is left alone when not asked for")
		})
	}
}

func TestApplyHelmParameters(t *testing.T) {
	for _, tc := range []struct {
		image string
		value kargoapi.ImageUpdateValue
		want  string
	}{
		{"nginx", kargoapi.ImageUpdateValueImage, "nginx"},
		{"nginx", kargoapi.ImageUpdateValueTag, "1.25.0"},
		{"nginx", kargoapi.ImageUpdateValueImageAndTag, "nginx:1.25.0"},
		{"nginx", kargoapi.ImageUpdateValueDigest, "sha256:aaaa"},
		{"nginx", kargoapi.ImageUpdateValueImageAndDigest, "nginx@sha256:aaaa"},
	} {
		t.Run(string(tc.value), func(t *testing.T) {
			c := newClient(t, application("guestbook", func(a *argocdv1.Application) {
				a.Spec.Source = &argocdv1.ApplicationSource{RepoURL: chartRepo, Chart: "guestbook", TargetRevision: "1.3.0",
					Helm: &argocdv1.ApplicationSourceHelm{Parameters: []argocdv1.HelmParameter{{Name: "replicas", Value: "2"}, {Name: "image.x", Value: "old"}}}}
			}))
			u := &Updater{Client: c}
			summary, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{
				AppName: "guestbook",
				SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
					RepoURL: chartRepo,
					Chart:   "guestbook",
					Helm:    &kargoapi.ArgoCDHelm{Images: []kargoapi.ArgoCDHelmImageUpdate{{Image: kargoapi.ImageRepoURL(tc.image), Key: "image.x", Value: tc.value}}},
				}},
			}}, nil)
			require.NoError(t, err)
			require.Equal(t, []argocdv1.HelmParameter{
				{Name: "replicas", Value: "2"},
				{Name: "image.x", Value: tc.want, ForceString: true},
			}, getApp(t, c, "guestbook").Spec.Source.Helm.Parameters)
			require.Equal(t, []string{"updated Application argocd/guestbook: helm parameter image.x=" + tc.want + ", sync requested"}, summary)
		})
	}
}

func TestApplyTargetRevision(t *testing.T) {
	gitSource := &argocdv1.ApplicationSource{RepoURL: gitRepo, Path: "stages/test", TargetRevision: "main"}
	for _, tc := range []struct {
		name    string
		source  *argocdv1.ApplicationSource
		update  kargoapi.ArgoCDSourceUpdate
		heads   map[string]string
		want    string
		summary string
	}{
		{
			name:    "git, the commit this promotion pushed, under another spelling of the URL",
			source:  gitSource,
			update:  kargoapi.ArgoCDSourceUpdate{RepoURL: gitRepo, UpdateTargetRevision: true},
			heads:   map[string]string{"https://GIT.example.com/example/gitops.git/": pushedID},
			want:    pushedID,
			summary: "targetRevision 2222222",
		},
		{
			name:    "git, the Freight's commit when nothing was pushed there",
			source:  gitSource,
			update:  kargoapi.ArgoCDSourceUpdate{RepoURL: gitRepo + ".git", UpdateTargetRevision: true},
			heads:   map[string]string{"https://git.example.com/example/other": pushedID},
			want:    commitID,
			summary: "targetRevision 1111111",
		},
		{
			name:    "chart from an HTTP repository",
			source:  &argocdv1.ApplicationSource{RepoURL: chartRepo + "/", Chart: "guestbook", TargetRevision: "1.3.0"},
			update:  kargoapi.ArgoCDSourceUpdate{RepoURL: chartRepo, Chart: "guestbook", UpdateTargetRevision: true},
			want:    "1.4.0",
			summary: "targetRevision 1.4.0",
		},
		{
			name:    "chart from an OCI registry",
			source:  &argocdv1.ApplicationSource{RepoURL: "ghcr.io/example/charts", Chart: "podinfo", TargetRevision: "6.4.0"},
			update:  kargoapi.ArgoCDSourceUpdate{RepoURL: "ghcr.io/example/charts", UpdateTargetRevision: true},
			want:    "6.5.0",
			summary: "targetRevision 6.5.0",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, application("guestbook", func(a *argocdv1.Application) { a.Spec.Source = tc.source.DeepCopy() }))
			u := &Updater{Client: c}
			summary, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{
				AppName:       "guestbook",
				SourceUpdates: []kargoapi.ArgoCDSourceUpdate{tc.update},
			}}, tc.heads)
			require.NoError(t, err)
			app := getApp(t, c, "guestbook")
			require.Equal(t, tc.want, app.Spec.Source.TargetRevision)
			require.Equal(t, tc.want, app.Operation.Sync.Revision, "the sync asks for the new revision")
			require.Equal(t, []string{"updated Application argocd/guestbook: " + tc.summary + ", sync requested"}, summary)
		})
	}
}

func TestApplyMultiSource(t *testing.T) {
	c := newClient(t, application("guestbook", func(a *argocdv1.Application) {
		a.Spec.Source = nil
		a.Spec.Sources = []argocdv1.ApplicationSource{
			{RepoURL: gitRepo, TargetRevision: "main"},
			{RepoURL: chartRepo, Chart: "redis", TargetRevision: "18.0.0"},
			{RepoURL: chartRepo, Chart: "guestbook", TargetRevision: "1.3.0"},
		}
	}))
	u := &Updater{Client: c}
	_, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{
		AppName: "guestbook",
		SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
			RepoURL:              chartRepo,
			Chart:                "guestbook",
			UpdateTargetRevision: true,
			Helm:                 &kargoapi.ArgoCDHelm{Images: []kargoapi.ArgoCDHelmImageUpdate{{Image: "nginx", Key: "image.tag", Value: kargoapi.ImageUpdateValueTag}}},
		}},
	}}, nil)
	require.NoError(t, err)
	app := getApp(t, c, "guestbook")
	require.Equal(t, []argocdv1.ApplicationSource{
		{RepoURL: gitRepo, TargetRevision: "main"},
		{RepoURL: chartRepo, Chart: "redis", TargetRevision: "18.0.0"},
		{RepoURL: chartRepo, Chart: "guestbook", TargetRevision: "1.4.0", Helm: &argocdv1.ApplicationSourceHelm{
			Parameters: []argocdv1.HelmParameter{{Name: "image.tag", Value: "1.25.0", ForceString: true}},
		}},
	}, app.Spec.Sources)
	require.Empty(t, app.Operation.Sync.Revision)
	require.Equal(t, []string{"main", "18.0.0", "1.4.0"}, app.Operation.Sync.Revisions)
}

func TestApplyAlwaysRefreshesAndSyncs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		alias  string
		reason string
	}{
		{name: "Freight with an alias", alias: "brave-eagle", reason: "Promotion of Freight brave-eagle to Stage test"},
		{name: "Freight without an alias", reason: "Promotion of Freight 3f2a1b0c3f2a1b0c3f2a1b0c3f2a1b0c3f2a1b0c to Stage test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, application("guestbook", func(a *argocdv1.Application) {
				a.Namespace = "apps"
				a.Annotations["team"] = "web"
			}))
			f := testFreight()
			f.Alias = tc.alias
			u := &Updater{Client: c, DefaultNamespace: "apps"}
			summary, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), f, []kargoapi.ArgoCDAppUpdate{{AppName: "guestbook"}}, nil)
			require.NoError(t, err)
			require.Equal(t, []string{"updated Application apps/guestbook: sync requested"}, summary)
			app := &argocdv1.Application{}
			require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "apps", Name: "guestbook"}, app))
			require.Equal(t, map[string]string{
				kargoapi.AuthorizedStageAnnotationKey: project + ":" + stageName,
				"team":                                "web",
				RefreshAnnotationKey:                  "hard",
			}, app.Annotations)
			require.Equal(t, &argocdv1.Operation{
				Sync:        &argocdv1.SyncOperation{Revision: "main"},
				InitiatedBy: argocdv1.OperationInitiator{Username: "kargo"},
				Info:        []argocdv1.Info{{Name: "Reason", Value: tc.reason}},
			}, app.Operation)
		})
	}
}

func TestApplyChangesNothingWhenAnUpdateIsWrong(t *testing.T) {
	kustomize := func(image string, digest bool) []kargoapi.ArgoCDSourceUpdate {
		return []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo, Kustomize: &kargoapi.ArgoCDKustomize{
			Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: kargoapi.ImageRepoURL(image), UseDigest: digest}},
		}}}
	}
	helm := func(image string, v kargoapi.ImageUpdateValue) []kargoapi.ArgoCDSourceUpdate {
		return []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo, Helm: &kargoapi.ArgoCDHelm{
			Images: []kargoapi.ArgoCDHelmImageUpdate{{Image: kargoapi.ImageRepoURL(image), Key: "k", Value: v}},
		}}}
	}
	for _, tc := range []struct {
		name    string
		app     string // the second update's Application; the first is always fine
		sources []kargoapi.ArgoCDSourceUpdate
		is      error
		msg     string
	}{
		{
			name: "Application without the annotation",
			app:  "unannotated",
			is:   sourceerr.ErrInvalid,
			msg:  `Application argocd/unannotated does not let Stage kargo-demo/test change it: add the annotation kargo.akuity.io/authorized-stage: "kargo-demo:test" to Application argocd/unannotated`,
		},
		{
			name: "Application for another Stage",
			app:  "other-stage",
			is:   sourceerr.ErrInvalid,
			msg:  `Application argocd/other-stage lets "kargo-demo:prod" change it, not Stage kargo-demo/test: set its annotation kargo.akuity.io/authorized-stage to "kargo-demo:test"`,
		},
		{
			name: "Application missing",
			app:  "nope",
			is:   sourceerr.ErrNotFound,
			msg:  "Application argocd/nope not found",
		},
		{
			name: "Application syncing",
			app:  "syncing",
			is:   ErrSyncRunning,
			msg:  "Application argocd/syncing: a sync is running (phase Running, since 2030-01-02T03:04:05Z); kargo asks for its sync once that one ends",
		},
		{
			name:    "no source with the repoURL",
			app:     "second",
			sources: []kargoapi.ArgoCDSourceUpdate{{RepoURL: "https://git.example.com/example/other", UpdateTargetRevision: true}},
			is:      sourceerr.ErrInvalid,
			msg:     "Application argocd/second has no source with repoURL https://git.example.com/example/other (its sources: " + gitRepo + ")",
		},
		{
			name:    "no source with the chart",
			app:     "second",
			sources: []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo, Chart: "guestbook", UpdateTargetRevision: true}},
			is:      sourceerr.ErrInvalid,
			msg:     "has no source with repoURL " + gitRepo + " (chart guestbook)",
		},
		{
			name:    "image not in the Freight",
			app:     "second",
			sources: kustomize("redis", false),
			is:      sourceerr.ErrInvalid,
			msg:     "Freight brave-eagle has no image redis (it has: nginx, ghcr.io/example/app, ghcr.io/example/pinned)",
		},
		{
			name:    "useDigest for an image recorded without digest",
			app:     "second",
			sources: kustomize("ghcr.io/example/app", true),
			is:      sourceerr.ErrInvalid,
			msg:     "useDigest is set for ghcr.io/example/app, but Freight brave-eagle records no digest for it",
		},
		{
			name:    "a tag for an image recorded without tag",
			app:     "second",
			sources: helm("ghcr.io/example/pinned", kargoapi.ImageUpdateValueImageAndTag),
			is:      sourceerr.ErrInvalid,
			msg:     "value ImageAndTag for parameter k needs a tag, but Freight brave-eagle records none for ghcr.io/example/pinned",
		},
		{
			name:    "an unknown value kind",
			app:     "second",
			sources: helm("nginx", "Everything"),
			is:      sourceerr.ErrInvalid,
			msg:     `unknown value "Everything" for parameter k`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t,
				application("first"),
				application("second"),
				application("unannotated", func(a *argocdv1.Application) { a.Annotations = nil }),
				application("other-stage", func(a *argocdv1.Application) {
					a.Annotations[kargoapi.AuthorizedStageAnnotationKey] = project + ":prod"
				}),
				application("syncing", func(a *argocdv1.Application) {
					a.Operation = &argocdv1.Operation{Sync: &argocdv1.SyncOperation{Revision: "main"}}
					a.Status.OperationState = &argocdv1.OperationState{
						Phase:     argocdv1.OperationRunning,
						StartedAt: metav1.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
					}
				}),
			)
			before := &argocdv1.ApplicationList{}
			require.NoError(t, c.List(context.Background(), before))
			f := testFreight()
			f.Commits = nil // so that targetRevision has nothing to point at
			u := &Updater{Client: c}
			summary, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), f, []kargoapi.ArgoCDAppUpdate{
				{AppName: "first", SourceUpdates: kustomize("nginx", false)},
				{AppName: tc.app, SourceUpdates: tc.sources},
			}, nil)
			require.ErrorIs(t, err, tc.is)
			require.ErrorContains(t, err, tc.msg)
			require.Empty(t, summary)
			after := &argocdv1.ApplicationList{}
			require.NoError(t, c.List(context.Background(), after))
			require.Equal(t, before.Items, after.Items, "no Application is written, not even the first")
		})
	}
}

func TestApplyReplacesASyncNotYetStarted(t *testing.T) {
	for _, phase := range []argocdv1.OperationPhase{"", argocdv1.OperationSucceeded, argocdv1.OperationFailed} {
		t.Run("last phase "+string(phase), func(t *testing.T) {
			c := newClient(t, application("guestbook", func(a *argocdv1.Application) {
				a.Operation = &argocdv1.Operation{Sync: &argocdv1.SyncOperation{Revision: "old"}, InitiatedBy: argocdv1.OperationInitiator{Username: "alice"}}
				if phase != "" {
					a.Status.OperationState = &argocdv1.OperationState{Phase: phase}
				}
			}))
			u := &Updater{Client: c}
			_, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{
				AppName:       "guestbook",
				SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo, UpdateTargetRevision: true}},
			}}, nil)
			require.NoError(t, err)
			op := getApp(t, c, "guestbook").Operation
			require.Equal(t, commitID, op.Sync.Revision)
			require.Equal(t, "kargo", op.InitiatedBy.Username)
		})
	}
}

func TestApplyTargetRevisionWithNothingToPointAt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		source *argocdv1.ApplicationSource
		msg    string
	}{
		{
			name:   "git repository neither pushed to nor in the Freight",
			source: &argocdv1.ApplicationSource{RepoURL: "https://git.example.com/example/other"},
			msg:    "nothing says which commit of https://git.example.com/example/other to point at",
		},
		{
			name:   "chart not in the Freight",
			source: &argocdv1.ApplicationSource{RepoURL: chartRepo, Chart: "redis"},
			msg:    "Freight brave-eagle has no chart redis from " + chartRepo,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, application("guestbook", func(a *argocdv1.Application) { a.Spec.Source = tc.source }))
			u := &Updater{Client: c}
			_, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{
				AppName:       "guestbook",
				SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: tc.source.RepoURL, UpdateTargetRevision: true}},
			}}, map[string]string{gitRepo: pushedID})
			require.ErrorIs(t, err, sourceerr.ErrInvalid)
			require.ErrorContains(t, err, tc.msg)
			require.Nil(t, getApp(t, c, "guestbook").Operation)
		})
	}
}

func TestApplyRedoesTheEditWhenTheApplicationChangedSinceRead(t *testing.T) {
	base := newClient(t, application("guestbook"))
	patches := 0
	c := interceptor.NewClient(base, interceptor.Funcs{
		Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			patches++
			if patches == 1 {
				// Argo CD writes between kargo's read and kargo's patch.
				app := getApp(t, cl, "guestbook")
				app.Status.Health.Status = argocdv1.HealthStatusHealthy
				require.NoError(t, cl.Update(ctx, app))
			}
			return cl.Patch(ctx, obj, patch, opts...)
		},
	})
	u := &Updater{Client: c}
	_, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{
		AppName:       "guestbook",
		SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo, UpdateTargetRevision: true}},
	}}, nil)
	require.NoError(t, err)
	require.Equal(t, 2, patches, "the first patch conflicts and the second succeeds")
	app := getApp(t, base, "guestbook")
	require.Equal(t, commitID, app.Spec.Source.TargetRevision)
	require.Equal(t, argocdv1.HealthStatusHealthy, app.Status.Health.Status, "the other writer's change is kept")
}

func TestApplyGivesUpOnEndlessConflicts(t *testing.T) {
	c := interceptor.NewClient(newClient(t, application("guestbook")), interceptor.Funcs{
		Patch: func(context.Context, client.WithWatch, client.Object, client.Patch, ...client.PatchOption) error {
			return apierrors.NewConflict(schema.GroupResource{Group: "argoproj.io", Resource: "applications"}, "guestbook", errors.New("changed"))
		},
	})
	u := &Updater{Client: c}
	_, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{AppName: "guestbook"}}, nil)
	require.True(t, apierrors.IsConflict(err), "got %v", err)
	require.ErrorContains(t, err, "patch Application argocd/guestbook")
}

// TestEditKeepsWhatKargoDoesNotKnow edits a raw Application as Argo CD
// stores it and applies the resulting merge patch the way the API server
// does, since the fake client would drop unknown fields on its own.
func TestEditKeepsWhatKargoDoesNotKnow(t *testing.T) {
	const doc = `{
	  "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	  "metadata": {"namespace": "argocd", "name": "guestbook", "resourceVersion": "7",
	    "annotations": {"kargo.akuity.io/authorized-stage": "kargo-demo:test"}},
	  "spec": {
	    "project": "default",
	    "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
	    "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"], "retry": {"limit": 3}},
	    "sources": [
	      {"repoURL": "https://git.example.com/example/gitops", "targetRevision": "main", "ref": "values"},
	      {"repoURL": "https://git.example.com/example/gitops.git", "path": "app", "targetRevision": "main",
	       "name": "app", "directory": {"recurse": true},
	       "kustomize": {"namePrefix": "test-", "images": ["nginx:1.24.0"], "commonLabels": {"tier": "web"}}},
	      {"repoURL": "https://charts.example.com", "chart": "guestbook", "targetRevision": "1.3.0",
	       "helm": {"valueFiles": ["$values/guestbook.yaml"], "parameters": [{"name": "image.tag", "value": "1.24.0"}]}}
	    ]
	  },
	  "status": {"sync": {"status": "Synced"}, "resources": [{"kind": "Deployment"}]}
	}`
	var orig map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &orig))
	edited := runtime.DeepCopyJSON(orig)
	changes, err := edit(edited, "argocd/guestbook", objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), kargoapi.ArgoCDAppUpdate{
		AppName: "guestbook",
		SourceUpdates: []kargoapi.ArgoCDSourceUpdate{
			{RepoURL: gitRepo, UpdateTargetRevision: true,
				Kustomize: &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "nginx"}}}},
			{RepoURL: chartRepo, Chart: "guestbook", UpdateTargetRevision: true,
				Helm: &kargoapi.ArgoCDHelm{Images: []kargoapi.ArgoCDHelmImageUpdate{{Image: "nginx", Key: "image.tag", Value: kargoapi.ImageUpdateValueTag}}}},
		},
	}, map[string]string{gitRepo: pushedID})
	require.NoError(t, err)
	require.Equal(t, []string{"targetRevision 2222222", "image nginx=nginx:1.25.0", "helm parameter image.tag=1.25.0", "targetRevision 1.4.0"}, changes)

	raw, err := client.MergeFromWithOptions(&unstructured.Unstructured{Object: orig}, client.MergeFromWithOptimisticLock{}).
		Data(&unstructured.Unstructured{Object: edited})
	require.NoError(t, err)
	var patch map[string]any
	require.NoError(t, json.Unmarshal(raw, &patch))
	require.Equal(t, "7", patch["metadata"].(map[string]any)["resourceVersion"], "the patch is conditional on what was read")
	require.NotContains(t, patch, "status")

	var want map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{
	  "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	  "metadata": {"namespace": "argocd", "name": "guestbook", "resourceVersion": "7",
	    "annotations": {"kargo.akuity.io/authorized-stage": "kargo-demo:test", "argocd.argoproj.io/refresh": "hard"}},
	  "spec": {
	    "project": "default",
	    "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
	    "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"], "retry": {"limit": 3}},
	    "sources": [
	      {"repoURL": "https://git.example.com/example/gitops", "targetRevision": "`+pushedID+`", "ref": "values"},
	      {"repoURL": "https://git.example.com/example/gitops.git", "path": "app", "targetRevision": "`+pushedID+`",
	       "name": "app", "directory": {"recurse": true},
	       "kustomize": {"namePrefix": "test-", "images": ["nginx=nginx:1.25.0"], "commonLabels": {"tier": "web"}}},
	      {"repoURL": "https://charts.example.com", "chart": "guestbook", "targetRevision": "1.4.0",
	       "helm": {"valueFiles": ["$values/guestbook.yaml"], "parameters": [{"name": "image.tag", "value": "1.25.0", "forceString": true}]}}
	    ]
	  },
	  "operation": {
	    "sync": {"revisions": ["`+pushedID+`", "`+pushedID+`", "1.4.0"], "syncOptions": ["CreateNamespace=true"]},
	    "retry": {"limit": 3},
	    "initiatedBy": {"username": "kargo"},
	    "info": [{"name": "Reason", "value": "Promotion of Freight brave-eagle to Stage test"}]
	  },
	  "status": {"sync": {"status": "Synced"}, "resources": [{"kind": "Deployment"}]}
	}`), &want))
	require.Equal(t, want, mergePatch(runtime.DeepCopyJSON(orig), patch))
}

func TestEditRefusesImagesForAValuesOnlySource(t *testing.T) {
	doc := map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{kargoapi.AuthorizedStageAnnotationKey: "kargo-demo:test"}},
		"spec": map[string]any{"sources": []any{
			map[string]any{"repoURL": gitRepo, "ref": "values"},
			map[string]any{"repoURL": chartRepo, "chart": "guestbook"},
		}},
	}
	_, err := edit(doc, "argocd/guestbook", objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), kargoapi.ArgoCDAppUpdate{
		SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: gitRepo,
			Kustomize: &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "nginx"}}}}},
	}, nil)
	require.ErrorIs(t, err, sourceerr.ErrInvalid)
	require.ErrorContains(t, err, "Application argocd/guestbook has no source with repoURL "+gitRepo+" that renders manifests (only a ref source for values files)")
}

// mergePatch applies a JSON merge patch (RFC 7386) to doc.
func mergePatch(doc, patch map[string]any) map[string]any {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(doc, k)
		case map[string]any:
			dv, ok := doc[k].(map[string]any)
			if !ok {
				dv = map[string]any{}
			}
			doc[k] = mergePatch(dv, pv)
		default:
			doc[k] = v
		}
	}
	return doc
}

// Argo CD refuses a source with both kustomize and helm settings
// ("multiple application sources defined: Kustomize,Helm", seen with the
// real Argo CD in test/argocd): kargo gives each source the settings of the
// tool it declares, and refuses, writing nothing, where it cannot tell.
func TestApplyGivesEachSourceItsOwnTool(t *testing.T) {
	both := kargoapi.ArgoCDSourceUpdate{
		RepoURL:   gitRepo,
		Kustomize: &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "nginx"}}},
		Helm:      &kargoapi.ArgoCDHelm{Images: []kargoapi.ArgoCDHelmImageUpdate{{Image: "nginx", Key: "image.tag", Value: kargoapi.ImageUpdateValueTag}}},
	}
	t.Run("a kustomize source and a helm source of one repository", func(t *testing.T) {
		c := newClient(t, application("guestbook", func(a *argocdv1.Application) {
			a.Spec.Source = nil
			a.Spec.Sources = []argocdv1.ApplicationSource{
				{RepoURL: gitRepo, Path: "kustomize", TargetRevision: "main"},
				{RepoURL: gitRepo, Path: "chart", TargetRevision: "main", Helm: &argocdv1.ApplicationSourceHelm{}},
			}
		}))
		_, err := (&Updater{Client: c}).Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{AppName: "guestbook", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{both}}}, nil)
		require.NoError(t, err)
		srcs := getApp(t, c, "guestbook").Spec.Sources
		require.Equal(t, []string{"nginx=nginx:1.25.0"}, srcs[0].Kustomize.Images)
		require.Nil(t, srcs[0].Helm, "no helm parameters on the kustomize source")
		require.Nil(t, srcs[1].Kustomize, "no kustomize images on the helm source")
		require.Equal(t, []argocdv1.HelmParameter{{Name: "image.tag", Value: "1.25.0", ForceString: true}}, srcs[1].Helm.Parameters)
	})
	t.Run("one source that declares neither", func(t *testing.T) {
		app := application("guestbook", func(a *argocdv1.Application) {
			a.Spec.Source = &argocdv1.ApplicationSource{RepoURL: gitRepo, Path: "app", TargetRevision: "main"}
		})
		c := newClient(t, app)
		before := getApp(t, c, "guestbook")
		_, err := (&Updater{Client: c}).Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{AppName: "guestbook", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{both}}}, nil)
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
		require.Contains(t, err.Error(), "add `kustomize: {}` or `helm: {}` to that source")
		require.Equal(t, before.ResourceVersion, getApp(t, c, "guestbook").ResourceVersion, "nothing written")
	})
	t.Run("helm changes for a kustomize source", func(t *testing.T) {
		c := newClient(t, application("guestbook", func(a *argocdv1.Application) {
			a.Spec.Source = &argocdv1.ApplicationSource{RepoURL: gitRepo, Path: "app", TargetRevision: "main", Kustomize: &argocdv1.ApplicationSourceKustomize{Images: []string{"redis:7"}}}
		}))
		helmOnly := both
		helmOnly.Kustomize = nil
		_, err := (&Updater{Client: c}).Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{AppName: "guestbook", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{helmOnly}}}, nil)
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
		require.Contains(t, err.Error(), "are all kustomize sources, so the helm changes of the Stage would apply to none")
	})
}

// Sources are matched to sourceUpdates and Freight with repourl.Same, the
// rule kargo and Argo CD use elsewhere: an Application that spells its
// repository as git@host:org/repo.git, or with other letter case, is
// updated from a Stage and Freight that say https://host/org/repo; another
// repository is not.
func TestApplyMatchesSpellingsOfOneRepository(t *testing.T) {
	for _, tc := range []struct {
		name, source string
		matches      bool
	}{
		{"scp-like", "git@git.example.com:example/gitops.git", true},
		{"ssh://", "ssh://git@git.example.com/example/gitops", true},
		{"case of the path", "https://git.example.com/Example/GitOps", true},
		{"plain http", "http://git.example.com/example/gitops.git", true},
		{"another repository", "https://git.example.com/example/gitops-prod", false},
		{"another host", "https://git.example.com.evil.example/example/gitops", false},
		{"the Kelvin sign", "https://git.example.com/example/gitops-\u212A", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, application("guestbook", func(a *argocdv1.Application) { a.Spec.Source.RepoURL = tc.source }))
			u := &Updater{Client: c}
			_, err := u.Apply(context.Background(), objects.Stage(project, stageName, objects.ArgoCDUpdates()), testFreight(), []kargoapi.ArgoCDAppUpdate{{
				AppName: "guestbook",
				SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
					RepoURL:              gitRepo,
					UpdateTargetRevision: true,
					Kustomize:            &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "docker.io/library/nginx"}}},
				}},
			}}, nil)
			app := getApp(t, c, "guestbook")
			if !tc.matches {
				require.ErrorIs(t, err, sourceerr.ErrInvalid)
				require.ErrorContains(t, err, "has no source with repoURL "+gitRepo)
				require.Equal(t, "main", app.Spec.Source.TargetRevision)
				require.Nil(t, app.Operation)
				return
			}
			require.NoError(t, err)
			require.Equal(t, commitID, app.Spec.Source.TargetRevision, "the Freight's commit of "+gitRepo)
			require.Equal(t, tc.source, app.Spec.Source.RepoURL, "the Application keeps its spelling")
			require.Equal(t, []string{"nginx=nginx:1.25.0"}, app.Spec.Source.Kustomize.Images,
				"the update's docker.io/library/nginx is the Freight's nginx")
		})
	}
}
