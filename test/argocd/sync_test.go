package argocd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	kargoargocd "github.com/kargohq/kargo/internal/argocd"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// These tests run against the real Argo CD that TestMain starts: kargo's
// Updater edits an Application and asks for a sync, Argo CD renders the
// source from the Git server and applies it to the API server, and kargo
// reads the health Argo CD reports. ConfigMaps stand in for workloads,
// their health set by the repository through kubetest.ArgoCDHealthSetting
// (the API server runs no kubelet, so a Deployment would never be ready).

// syncWait bounds how long a test waits for Argo CD: a sync takes about a
// second, a refresh up to the 10 s resync TestMain sets, on a busy machine
// more.
const syncWait = 90 * time.Second

// argoRepo is the Git repository the tests' Applications deploy from, with
// a folder per case.
type argoRepo struct {
	git  *gitserver.Server
	url  string
	head string // main's commit
}

func configMap(name string, data map[string]string, annotations map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n", name)
	if len(annotations) > 0 {
		b.WriteString("  annotations:\n")
		for k, v := range annotations {
			fmt.Fprintf(&b, "    %s: %q\n", k, v)
		}
	}
	b.WriteString("data:\n")
	for k, v := range data {
		fmt.Fprintf(&b, "  %s: %q\n", k, v)
	}
	return b.String()
}

func newArgoRepo(t *testing.T) *argoRepo {
	t.Helper()
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	head := gs.Commit(t, "gitops", "main", map[string]string{
		"plain/configmap.yaml": configMap("plain", map[string]string{"version": "1"}, nil),
		// kustomize's images transformer rewrites any containers' images;
		// a suspended CronJob carries one and is Healthy without a kubelet.
		"kustomize/kustomization.yaml": "resources:\n- cronjob.yaml\n",
		"kustomize/cronjob.yaml": `apiVersion: batch/v1
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
          - name: app
            image: nginx:1.24.0
`,
		"chart/Chart.yaml":  "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"chart/values.yaml": "image:\n  tag: 1.24.0\n",
		"chart/templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: chart
data:
  tag: {{ .Values.image.tag | quote }}
`,
		"health/degraded/configmap.yaml":    configMap("degraded", map[string]string{"health": "Degraded", "message": "0/3 replicas ready"}, nil),
		"health/progressing/configmap.yaml": configMap("progressing", map[string]string{"health": "Progressing", "message": "rolling out"}, nil),
		// The API server refuses the name, so the sync fails.
		"broken/configmap.yaml": configMap("Not_A_Valid_Name", map[string]string{"a": "b"}, nil),
		// Argo CD applies wave 1 only once wave 0 is healthy: the sync runs
		// until the test makes "first" healthy.
		"waves/first.yaml":  configMap("first", map[string]string{"health": "Progressing", "message": "waiting"}, map[string]string{"argocd.argoproj.io/sync-wave": "0"}),
		"waves/second.yaml": configMap("second", map[string]string{"wave": "1"}, map[string]string{"argocd.argoproj.io/sync-wave": "1"}),
	}, "layout")
	return &argoRepo{git: gs, url: gs.RepoURL("gitops"), head: head}
}

// argoCase is one test's namespaces: the project of its (in-memory)
// Stage, the apps-* namespace of its Applications, which Argo CD watches,
// and the namespace Argo CD deploys into.
type argoCase struct {
	project, apps, target string
}

func newArgoCase(t *testing.T) argoCase {
	t.Helper()
	return argoCase{project: newNamespace(t, "project"), apps: newNamespace(t, "apps"), target: newNamespace(t, "target")}
}

// app creates an Application in c.apps named name that lets the test Stage
// change it and deploys sources (JSON) into c.target, synced only when
// asked (no automated policy: kargo asks).
func (c argoCase) app(t *testing.T, name, sources string) {
	t.Helper()
	key := "source"
	if strings.HasPrefix(strings.TrimSpace(sources), "[") {
		key = "sources"
	}
	createApp(t, c.apps, fmt.Sprintf(`{
	  "metadata": {"name": %q, "annotations": %s},
	  "spec": {"project": "default", "destination": {"server": %q, "namespace": %q}, %q: %s}
	}`, name, authorized(c.project), env.ArgoCD.Server, c.target, key, sources))
}

func (c argoCase) updater() *kargoargocd.Updater {
	return &kargoargocd.Updater{Client: env.Admin, DefaultNamespace: c.apps}
}

// freightOf is Freight with image nginx:tag and commit of the repository.
func freightOf(c argoCase, repo *argoRepo, tag, commit string) *kargoapi.Freight {
	return &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.project, Name: fmt.Sprintf("%040d", len(tag)+len(commit))},
		Alias:      "tag-" + strings.ReplaceAll(tag, ".", "-"),
		Commits:    []kargoapi.GitCommit{{RepoURL: repo.url, ID: commit}},
		Images:     []kargoapi.Image{{RepoURL: "nginx", Tag: tag}},
	}
}

// waitHealth waits until the health kargo reads for a Stage with updates
// satisfies ok, and returns it.
func (c argoCase) waitHealth(t *testing.T, updates []kargoapi.ArgoCDAppUpdate, what string, ok func(kargoapi.Health) bool) kargoapi.Health {
	t.Helper()
	st := objects.Stage(c.project, stageName, objects.ArgoCDUpdates(updates...))
	var h kargoapi.Health
	kubetest.Eventually(t, syncWait, what, func() (bool, string) {
		h = kargoargocd.Health(context.Background(), env.Admin, st, c.apps)
		return ok(h), fmt.Sprintf("%+v", h)
	})
	return h
}

func isHealthy(h kargoapi.Health) bool { return h.Status == kargoapi.HealthStateHealthy }

func live[T client.Object](t *testing.T, ns, name string, obj T) T {
	t.Helper()
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj))
	return obj
}

func TestArgoCDRendersTheKustomizeImageKargoSets(t *testing.T) {
	repo, c := newArgoRepo(t), newArgoCase(t)
	c.app(t, "app", fmt.Sprintf(`{"repoURL": %q, "path": "kustomize", "targetRevision": "main"}`, repo.url))
	updates := []kargoapi.ArgoCDAppUpdate{{AppName: "app", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
		RepoURL:   repo.url,
		Kustomize: &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "nginx"}}},
	}}}}
	_, err := c.updater().Apply(context.Background(), objects.Stage(c.project, stageName, objects.ArgoCDUpdates()), freightOf(c, repo, "1.25.0", repo.head), updates, nil)
	require.NoError(t, err)
	c.waitHealth(t, updates, "the Application Healthy", isHealthy)

	cj := live(t, c.target, "app", &batchv1.CronJob{})
	require.Equal(t, "nginx:1.25.0", cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image, "Argo CD rendered kargo's kustomize override")
	app := getApp(t, c.apps, "app")
	require.Equal(t, repo.head, app.Status.Sync.Revision)
	require.Equal(t, argocdv1.OperationSucceeded, app.Status.OperationState.Phase)
	require.NotContains(t, app.Annotations, kargoargocd.RefreshAnnotationKey, "Argo CD refreshed it and removed the annotation")
}

func TestArgoCDRendersTheHelmParameterKargoSets(t *testing.T) {
	repo, c := newArgoRepo(t), newArgoCase(t)
	c.app(t, "app", fmt.Sprintf(`{"repoURL": %q, "path": "chart", "targetRevision": "main", "helm": {"releaseName": "app"}}`, repo.url))
	updates := []kargoapi.ArgoCDAppUpdate{{AppName: "app", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
		RepoURL: repo.url,
		Helm:    &kargoapi.ArgoCDHelm{Images: []kargoapi.ArgoCDHelmImageUpdate{{Image: "nginx", Key: "image.tag", Value: kargoapi.ImageUpdateValueTag}}},
	}}}}
	_, err := c.updater().Apply(context.Background(), objects.Stage(c.project, stageName, objects.ArgoCDUpdates()), freightOf(c, repo, "1.25.1", repo.head), updates, nil)
	require.NoError(t, err)
	c.waitHealth(t, updates, "the Application Healthy", isHealthy)
	require.Equal(t, "1.25.1", live(t, c.target, "chart", &corev1.ConfigMap{}).Data["tag"], "Argo CD rendered the chart with kargo's parameter")
}

// A Freight's commit, not the branch's newest, is what Argo CD deploys when
// kargo points targetRevision at it; promoting newer Freight moves it on.
func TestArgoCDDeploysTheFreightsCommit(t *testing.T) {
	repo, c := newArgoRepo(t), newArgoCase(t)
	second := repo.git.Commit(t, "gitops", "main", map[string]string{"plain/configmap.yaml": configMap("plain", map[string]string{"version": "2"}, nil)}, "version 2")
	c.app(t, "app", fmt.Sprintf(`{"repoURL": %q, "path": "plain", "targetRevision": "main"}`, repo.url))
	updates := []kargoapi.ArgoCDAppUpdate{{AppName: "app", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: repo.url, UpdateTargetRevision: true}}}}

	for _, step := range []struct{ commit, version string }{{repo.head, "1"}, {second, "2"}} {
		_, err := c.updater().Apply(context.Background(), objects.Stage(c.project, stageName, objects.ArgoCDUpdates()), freightOf(c, repo, "1.0.0", step.commit), updates, nil)
		require.NoError(t, err)
		c.waitHealth(t, updates, "synced to "+step.commit, func(h kargoapi.Health) bool {
			return isHealthy(h) && getApp(t, c.apps, "app").Status.Sync.Revision == step.commit
		})
		require.Equal(t, step.version, live(t, c.target, "plain", &corev1.ConfigMap{}).Data["version"])
	}
}

// Health is what Argo CD reports, the worst of a Stage's Applications
// winning: Missing before anything is deployed, then Healthy, Progressing
// or Degraded as the resources are, and OutOfSync once Git moves on.
func TestHealthComesFromArgoCD(t *testing.T) {
	repo, c := newArgoRepo(t), newArgoCase(t)
	paths := map[string]string{"plain": "plain", "degraded": "health/degraded", "progressing": "health/progressing"}
	var updates []kargoapi.ArgoCDAppUpdate
	for _, name := range []string{"plain", "degraded", "progressing"} {
		c.app(t, name, fmt.Sprintf(`{"repoURL": %q, "path": %q, "targetRevision": "main"}`, repo.url, paths[name]))
		updates = append(updates, kargoapi.ArgoCDAppUpdate{AppName: name, SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: repo.url, UpdateTargetRevision: true}}})
	}
	appName := func(name string) string { return "Application " + c.apps + "/" + name }

	t.Run("nothing deployed yet is Missing", func(t *testing.T) {
		h := c.waitHealth(t, updates[:1], "plain Missing", func(h kargoapi.Health) bool {
			return len(h.Issues) == 1 && strings.HasPrefix(h.Issues[0], appName("plain")+" is Missing")
		})
		require.Equal(t, kargoapi.HealthStateUnhealthy, h.Status)
	})

	f := freightOf(c, repo, "1.0.0", repo.head)
	_, err := c.updater().Apply(context.Background(), objects.Stage(c.project, stageName, objects.ArgoCDUpdates()), f, updates, nil)
	require.NoError(t, err)

	t.Run("a healthy Application", func(t *testing.T) {
		c.waitHealth(t, updates[:1], "plain Healthy", isHealthy)
	})
	t.Run("Progressing is reported with Argo CD's message", func(t *testing.T) {
		// Argo CD 3 keeps resources' own health messages in redis, not in
		// the Application: its message names the resource. (While the sync
		// runs, the Application "is syncing" first.)
		want := []string{appName("progressing") + " is Progressing: Caused by ConfigMap:" + c.target + "/progressing"}
		h := c.waitHealth(t, []kargoapi.ArgoCDAppUpdate{updates[0], updates[2]}, "Progressing", func(h kargoapi.Health) bool {
			return fmt.Sprint(h.Issues) == fmt.Sprint(want)
		})
		require.Equal(t, kargoapi.HealthStateProgressing, h.Status)
	})
	t.Run("Degraded is worst and every issue is listed", func(t *testing.T) {
		want := []string{
			appName("degraded") + " is Degraded: Caused by ConfigMap:" + c.target + "/degraded",
			appName("progressing") + " is Progressing: Caused by ConfigMap:" + c.target + "/progressing",
		}
		h := c.waitHealth(t, updates, "Unhealthy", func(h kargoapi.Health) bool {
			return fmt.Sprint(h.Issues) == fmt.Sprint(want)
		})
		require.Equal(t, kargoapi.HealthStateUnhealthy, h.Status)
	})
	t.Run("Git moving on makes it OutOfSync", func(t *testing.T) {
		// plain follows main: without updateTargetRevision, kargo compares
		// no revision, and Argo CD reports the new commit as not synced.
		// (in a namespace of its own: two Applications must not deploy one
		// object)
		c := newArgoCase(t)
		c.app(t, "follower", fmt.Sprintf(`{"repoURL": %q, "path": "plain", "targetRevision": "main"}`, repo.url))
		follower := []kargoapi.ArgoCDAppUpdate{{AppName: "follower", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: repo.url}}}}
		_, err := c.updater().Apply(context.Background(), objects.Stage(c.project, stageName, objects.ArgoCDUpdates()), f, follower, nil)
		require.NoError(t, err)
		c.waitHealth(t, follower, "follower Healthy", isHealthy)
		repo.git.Commit(t, "gitops", "main", map[string]string{"plain/configmap.yaml": configMap("plain", map[string]string{"version": "3"}, nil)}, "version 3")
		app := getRaw(t, c.apps, "follower")
		patch := client.MergeFrom(app.DeepCopy())
		app.SetAnnotations(map[string]string{kargoapi.AuthorizedStageAnnotationKey: c.project + ":" + stageName, kargoargocd.RefreshAnnotationKey: "normal"})
		require.NoError(t, env.Admin.Patch(context.Background(), app, patch))
		h := c.waitHealth(t, follower, "OutOfSync", func(h kargoapi.Health) bool { return h.Status == kargoapi.HealthStateUnhealthy })
		require.Equal(t, []string{"Application " + c.apps + "/follower is OutOfSync"}, h.Issues)
	})
}

// A multi-source Application: kargo changes the sources it is told to, Argo
// CD renders both.
func TestArgoCDSyncsAMultiSourceApplication(t *testing.T) {
	repo, c := newArgoRepo(t), newArgoCase(t)
	c.app(t, "app", fmt.Sprintf(`[{"repoURL": %[1]q, "path": "kustomize", "targetRevision": "main"}, {"repoURL": %[1]q, "path": "chart", "targetRevision": "main", "helm": {"releaseName": "app"}}]`, repo.url))
	updates := []kargoapi.ArgoCDAppUpdate{{AppName: "app", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{
		RepoURL:              repo.url,
		UpdateTargetRevision: true,
		Kustomize:            &kargoapi.ArgoCDKustomize{Images: []kargoapi.ArgoCDKustomizeImageUpdate{{Image: "nginx"}}},
		Helm:                 &kargoapi.ArgoCDHelm{Images: []kargoapi.ArgoCDHelmImageUpdate{{Image: "nginx", Key: "image.tag", Value: kargoapi.ImageUpdateValueTag}}},
	}}}}
	_, err := c.updater().Apply(context.Background(), objects.Stage(c.project, stageName, objects.ArgoCDUpdates()), freightOf(c, repo, "1.26.0", repo.head), updates, nil)
	require.NoError(t, err)
	c.waitHealth(t, updates, "Healthy", isHealthy)
	require.Equal(t, "nginx:1.26.0", live(t, c.target, "app", &batchv1.CronJob{}).Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image)
	require.Equal(t, "1.26.0", live(t, c.target, "chart", &corev1.ConfigMap{}).Data["tag"])
	require.Equal(t, []string{repo.head, repo.head}, getApp(t, c.apps, "app").Status.Sync.Revisions)
}

// A sync the API server refuses makes the Stage Unhealthy, with Argo CD's
// reason.
func TestAFailedSyncIsUnhealthy(t *testing.T) {
	repo, c := newArgoRepo(t), newArgoCase(t)
	c.app(t, "broken", fmt.Sprintf(`{"repoURL": %q, "path": "broken", "targetRevision": "main"}`, repo.url))
	updates := []kargoapi.ArgoCDAppUpdate{{AppName: "broken", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: repo.url, UpdateTargetRevision: true}}}}
	_, err := c.updater().Apply(context.Background(), objects.Stage(c.project, stageName, objects.ArgoCDUpdates()), freightOf(c, repo, "1.0.0", repo.head), updates, nil)
	require.NoError(t, err)
	h := c.waitHealth(t, updates, "the failed sync reported", func(h kargoapi.Health) bool {
		return len(h.Issues) == 1 && strings.Contains(h.Issues[0], "last sync ended in")
	})
	require.Equal(t, kargoapi.HealthStateUnhealthy, h.Status)
	require.Contains(t, h.Issues[0], "Not_A_Valid_Name", "Argo CD's message names the object")
}

// While Argo CD runs a sync, kargo changes nothing (a second request would
// be dropped when the running one ends) and says so; once it ends, kargo's
// request goes through.
func TestARunningSyncIsWaitedFor(t *testing.T) {
	repo, c := newArgoRepo(t), newArgoCase(t)
	c.app(t, "waves", fmt.Sprintf(`{"repoURL": %q, "path": "waves", "targetRevision": "main"}`, repo.url))
	updates := []kargoapi.ArgoCDAppUpdate{{AppName: "waves", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: repo.url, UpdateTargetRevision: true}}}}
	st := objects.Stage(c.project, stageName, objects.ArgoCDUpdates())
	_, err := c.updater().Apply(context.Background(), st, freightOf(c, repo, "1.0.0", repo.head), updates, nil)
	require.NoError(t, err)
	h := c.waitHealth(t, updates, "the sync running", func(h kargoapi.Health) bool {
		return h.Status == kargoapi.HealthStateProgressing && len(h.Issues) == 1 && strings.Contains(h.Issues[0], "is syncing")
	})
	require.Contains(t, h.Issues[0], c.apps+"/waves is syncing")

	next := repo.git.Commit(t, "gitops", "main", map[string]string{
		"waves/first.yaml":  configMap("first", map[string]string{"health": "Healthy"}, map[string]string{"argocd.argoproj.io/sync-wave": "0"}),
		"waves/second.yaml": configMap("second", map[string]string{"wave": "1b"}, map[string]string{"argocd.argoproj.io/sync-wave": "1"}),
	}, "next")
	before := getRaw(t, c.apps, "waves")
	_, err = c.updater().Apply(context.Background(), st, freightOf(c, repo, "1.0.0", next), updates, nil)
	require.True(t, errors.Is(err, kargoargocd.ErrSyncRunning), "got %v", err)
	require.Equal(t, before.GetResourceVersion(), getRaw(t, c.apps, "waves").GetResourceVersion(), "nothing was written")
	require.ErrorIs(t, c.updater().Check(context.Background(), st, freightOf(c, repo, "1.0.0", next), updates, nil), kargoargocd.ErrSyncRunning, "Check agrees")

	// The first wave becomes healthy: Argo CD finishes its sync.
	first := &corev1.ConfigMap{}
	kubetest.Eventually(t, syncWait, "the first wave applied", func() (bool, string) {
		err := env.Admin.Get(context.Background(), client.ObjectKey{Namespace: c.target, Name: "first"}, first)
		return err == nil, fmt.Sprint(err)
	})
	patch := client.MergeFrom(first.DeepCopy())
	first.Data["health"] = "Healthy"
	require.NoError(t, env.Admin.Patch(context.Background(), first, patch))
	kubetest.Eventually(t, syncWait, "the running sync ends", func() (bool, string) {
		op := getApp(t, c.apps, "waves").Status.OperationState
		return op != nil && op.Phase == argocdv1.OperationSucceeded, fmt.Sprintf("%+v", op)
	})
	_, err = c.updater().Apply(context.Background(), st, freightOf(c, repo, "1.0.0", next), updates, nil)
	require.NoError(t, err)
	kubetest.Eventually(t, syncWait, "kargo's sync of the next commit", func() (bool, string) {
		app := getApp(t, c.apps, "waves")
		return app.Status.Sync.Revision == next && live(t, c.target, "second", &corev1.ConfigMap{}).Data["wave"] == "1b", fmt.Sprintf("%+v", app.Status.OperationState)
	})
}
