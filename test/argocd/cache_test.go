package argocd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	kargoargocd "github.com/kargohq/kargo/internal/argocd"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// appTraffic counts the requests that read one Application by name (what
// a live read costs) on their way to the API server, and can hold back
// what watches deliver, as a slow connection would, to leave an informer
// cache behind the API server.
type appTraffic struct {
	gets atomic.Int64

	mu   sync.Mutex
	hold *sync.WaitGroup // non-nil while watch events are held back
}

func (a *appTraffic) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		// /apis/argoproj.io/v1alpha1/namespaces/NS/applications/NAME
		if req.Method == http.MethodGet && req.URL.Query().Get("watch") == "" {
			if i := strings.Index(req.URL.Path, "/applications/"); i >= 0 && !strings.Contains(req.URL.Path[i+len("/applications/"):], "/") {
				a.gets.Add(1)
			}
		}
		resp, err := rt.RoundTrip(req)
		if err == nil && req.URL.Query().Get("watch") == "true" {
			resp.Body = &heldBody{ReadCloser: resp.Body, traffic: a}
		}
		return resp, err
	})
}

// holdWatches holds back every watch event until the returned function is
// called.
func (a *appTraffic) holdWatches() (release func()) {
	wg := &sync.WaitGroup{}
	wg.Add(1)
	a.mu.Lock()
	a.hold = wg
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		a.hold = nil
		a.mu.Unlock()
		wg.Done()
	}
}

type heldBody struct {
	io.ReadCloser
	traffic *appTraffic
}

// Read delivers what it read only when nothing is held, so that a read
// that began before the hold does not slip an event through.
func (b *heldBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.traffic.mu.Lock()
	wg := b.traffic.hold
	b.traffic.mu.Unlock()
	if wg != nil {
		wg.Wait()
	}
	return n, err
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// cachedReader returns the Reader the controller's Stage health uses, with
// its own informer cache of Applications, both connected through traffic.
func cachedReader(t *testing.T, traffic *appTraffic) *kargoargocd.Reader {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(traffic.wrap)
	c, err := cache.New(cfg, cache.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.True(t, c.WaitForCacheSync(ctx))
	// Start the Application informer now, as the Stage controller's watch
	// does in the controller.
	_, err = c.GetInformer(ctx, &argocdv1.Application{})
	require.NoError(t, err)
	live, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	return &kargoargocd.Reader{Cache: c, Live: live}
}

// cacheHealth waits until the health r reads for a Stage with updates
// satisfies ok, and returns it.
func (c argoCase) cacheHealth(t *testing.T, r client.Reader, updates []kargoapi.ArgoCDAppUpdate, what string, ok func(kargoapi.Health) bool) kargoapi.Health {
	t.Helper()
	st := objects.Stage(c.project, stageName, objects.ArgoCDUpdates(updates...))
	var h kargoapi.Health
	kubetest.Eventually(t, syncWait, what, func() (bool, string) {
		h = kargoargocd.Health(context.Background(), r, st, c.apps)
		return ok(h), fmt.Sprintf("%+v", h)
	})
	return h
}

// Issue 20: Stage health read every Application live, one GET per
// Application per Stage pass (67 a second at 2,000 Stages). From the
// informer cache it follows what Argo CD reports (nothing deployed, synced
// and Healthy, OutOfSync once Git moves on) without a single GET.
func TestHealthFollowsArgoCDWithoutLiveReads(t *testing.T) {
	repo, c := newArgoRepo(t), newArgoCase(t)
	c.app(t, "plain", fmt.Sprintf(`{"repoURL": %q, "path": "plain", "targetRevision": "main"}`, repo.url))
	updates := []kargoapi.ArgoCDAppUpdate{{AppName: "plain", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: repo.url}}}}
	traffic := &appTraffic{}
	r := cachedReader(t, traffic)

	h := c.cacheHealth(t, r, updates, "Missing before anything is deployed", func(h kargoapi.Health) bool {
		return len(h.Issues) == 1 && strings.Contains(h.Issues[0], "is Missing")
	})
	require.Equal(t, kargoapi.HealthStateUnhealthy, h.Status)
	// Someone else's write (here the test's own Updater, which does not
	// tell the Reader): the cache learns of it through the watch.
	_, err := c.updater().Apply(context.Background(), objects.Stage(c.project, stageName, objects.ArgoCDUpdates()), freightOf(c, repo, "1.0.0", repo.head), updates, nil)
	require.NoError(t, err)
	c.cacheHealth(t, r, updates, "Healthy once Argo CD synced", isHealthy)

	repo.git.Commit(t, "gitops", "main", map[string]string{"plain/configmap.yaml": configMap("plain", map[string]string{"version": "2"}, nil)}, "version 2")
	app := getRaw(t, c.apps, "plain")
	patch := client.MergeFrom(app.DeepCopy())
	app.SetAnnotations(map[string]string{kargoapi.AuthorizedStageAnnotationKey: c.project + ":" + stageName, kargoargocd.RefreshAnnotationKey: "normal"})
	require.NoError(t, env.Admin.Patch(context.Background(), app, patch))
	h = c.cacheHealth(t, r, updates, "OutOfSync once Git moves on", func(h kargoapi.Health) bool { return h.Status == kargoapi.HealthStateUnhealthy })
	require.Equal(t, []string{"Application " + c.apps + "/plain is OutOfSync"}, h.Issues)

	require.Zero(t, traffic.gets.Load(), "no Application was read live")
}

// Right after kargo's own argocd-update, the cache may still hold the
// Application from before it, Synced and Healthy at the previous revision:
// read from there, the new Freight would be verified where it was never
// deployed. The Reader reads it live until the cache has caught up.
func TestHealthAfterKargosWriteIsNotStale(t *testing.T) {
	repo, c := newArgoRepo(t), newArgoCase(t)
	c.app(t, "plain", fmt.Sprintf(`{"repoURL": %q, "path": "plain", "targetRevision": "main"}`, repo.url))
	updates := []kargoapi.ArgoCDAppUpdate{{AppName: "plain", SourceUpdates: []kargoapi.ArgoCDSourceUpdate{{RepoURL: repo.url, UpdateTargetRevision: true}}}}
	traffic := &appTraffic{}
	r := cachedReader(t, traffic)
	kargo := &kargoargocd.Updater{Client: env.Admin, DefaultNamespace: c.apps, Written: r}
	st := objects.Stage(c.project, stageName, objects.ArgoCDUpdates(updates...))

	_, err := kargo.Apply(context.Background(), st, freightOf(c, repo, "1.0.0", repo.head), updates, nil)
	require.NoError(t, err)
	c.cacheHealth(t, r, updates, "Healthy at the first commit", isHealthy)
	next := repo.git.Commit(t, "gitops", "main", map[string]string{"plain/configmap.yaml": configMap("plain", map[string]string{"version": "2"}, nil)}, "version 2")

	// The cache holds the Application as it is now; then it falls behind.
	kubetest.Eventually(t, syncWait, "the cache holds the Application as the API server does", func() (bool, string) {
		cached := &argocdv1.Application{}
		require.NoError(t, r.Cache.Get(context.Background(), client.ObjectKey{Namespace: c.apps, Name: "plain"}, cached))
		now := getApp(t, c.apps, "plain")
		return cached.ResourceVersion == now.ResourceVersion, cached.ResourceVersion + " vs " + now.ResourceVersion
	})
	release := traffic.holdWatches()
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	before := traffic.gets.Load()
	_, err = kargo.Apply(context.Background(), st, freightOf(c, repo, "2.0.0", next), updates, nil)
	require.NoError(t, err)

	require.Equal(t, kargoapi.HealthStateHealthy, kargoargocd.Health(context.Background(), r.Cache, st, c.apps).Status,
		"the held-back cache still says Healthy at the previous revision")
	h := kargoargocd.Health(context.Background(), r, st, c.apps)
	synced := getApp(t, c.apps, "plain").Status.Sync.Revision
	require.Greater(t, traffic.gets.Load(), before, "the Application was read live")
	require.True(t, h.Status != kargoapi.HealthStateHealthy || synced == next,
		"health after kargo's write is that of the write, not of the cache: %+v (Argo CD synced %s)", h, synced)

	release()
	released = true
	c.cacheHealth(t, r, updates, "Healthy at the promoted commit", isHealthy)
	kubetest.Eventually(t, syncWait, "the cache has caught up and is read again", func() (bool, string) {
		n := traffic.gets.Load()
		kargoargocd.Health(context.Background(), r, st, c.apps)
		return traffic.gets.Load() == n, fmt.Sprintf("%d live reads", traffic.gets.Load()-n)
	})
	require.Equal(t, next, getApp(t, c.apps, "plain").Status.Sync.Revision)
}
