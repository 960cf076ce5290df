package security

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/cli"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/webhookreceiver"
)

// apiserverStart runs kargo's API server as a cluster install runs it: as
// the ServiceAccount kargo/kargo-api, authenticating with a TokenRequest
// token of its own, with only the shipped kargo-api ClusterRole bound. It
// stops with the test.
func apiserverStart(t *testing.T, opts server.Options) *apiserver.Server {
	t.Helper()
	opts.Config = apiserverIdentity(t)
	srv, err := apiserver.Start(env, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	return srv
}

// apiserverCounts counts the requests kargo's API server makes to the
// Kubernetes API server, by path: it wraps the server's own transport,
// which it leaves as it is.
type apiserverCounts struct {
	mu     sync.Mutex
	byPath map[string]int
}

func (c *apiserverCounts) of(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPath[path]
}

type apiserverCountingTransport struct {
	counts *apiserverCounts
	next   http.RoundTripper
}

func (t apiserverCountingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.counts.mu.Lock()
	t.counts.byPath[r.URL.Path]++
	t.counts.mu.Unlock()
	return t.next.RoundTrip(r)
}

// apiserverStartCounting is apiserverStart, counting the server's requests
// to the Kubernetes API server.
func apiserverStartCounting(t *testing.T, opts server.Options) (*apiserver.Server, *apiserverCounts) {
	t.Helper()
	counts := &apiserverCounts{byPath: map[string]int{}}
	opts.Config = apiserverIdentity(t)
	opts.Config.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return apiserverCountingTransport{counts: counts, next: rt}
	}
	srv, err := apiserver.Start(env, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	return srv, counts
}

// apiserverIdentity returns the connection of kargo's API server on a
// cluster: the ServiceAccount kargo/kargo-api with a TokenRequest token and
// only the shipped kargo-api ClusterRole bound.
func apiserverIdentity(t *testing.T) *rest.Config {
	t.Helper()
	// Binds the shipped role to kargo/kargo-api; the connection it returns
	// (a client certificate) is not used: the server presents a real
	// ServiceAccount token.
	_, err := apiserver.Config(env)
	require.NoError(t, err)
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = apiserverToken(t, install.Namespace, "kargo-api")
	return cfg
}

// apiserverToken creates the ServiceAccount namespace/name when missing
// and returns a TokenRequest token for it, as `kubectl create token` does.
func apiserverToken(t *testing.T, namespace, name string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := env.Admin.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	require.NoError(t, err)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, tr.Status.Token)
	return tr.Status.Token
}

// apiserverServiceAccount creates the ServiceAccount name in project, binds
// the ClusterRole role to it there (none when empty), and returns a
// TokenRequest token for it.
func apiserverServiceAccount(t *testing.T, project, name, role string) string {
	t.Helper()
	token := apiserverToken(t, project, name)
	if role != "" {
		require.NoError(t, env.Admin.Create(context.Background(), &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name + "-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: project, Name: name}},
		}))
		env.AwaitBinding(t, project, "system:serviceaccount:"+project+":"+name, "ClusterRole", role)
	}
	return token
}

// apiserverProjects numbers the projects of the run, so that -count=N runs
// each test in fresh ones.
var apiserverProjects atomic.Int64

// apiserverProject creates a Project with a Warehouse w (polled hourly, on
// an address that resolves nowhere), a Stage test subscribed to it, and one
// Freight of w, and returns the project and the Freight.
func apiserverProject(t *testing.T, prefix string) (string, *kargoapi.Freight) {
	t.Helper()
	ctx := context.Background()
	project := fmt.Sprintf("%s-%d", prefix, apiserverProjects.Add(1))
	env.CreateProject(t, project)
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: project},
		Spec: kargoapi.WarehouseSpec{
			Interval:      &metav1.Duration{Duration: time.Hour},
			Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: "registry.invalid/app"}}},
		},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: project},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}},
	}))
	images := []kargoapi.Image{{RepoURL: "registry.invalid/app", Tag: "1.0.0", Digest: "sha256:" + strings.Repeat("ab", 32)}}
	f := &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}, nil, images, nil), Namespace: project},
		Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"},
		Images:     images,
	}
	require.NoError(t, env.Admin.Create(ctx, f))
	return project, f
}

// apiserverResponse is what kargo's API server answered.
type apiserverResponse struct {
	code int
	body []byte
}

// apiserverCall sends a request with token (none when empty) and body as
// JSON (none when nil), with extra headers, and returns the answer.
func apiserverCall(t *testing.T, srv *apiserver.Server, token, method, path string, body any, header ...string) apiserverResponse {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return apiserverResponse{code: resp.StatusCode, body: raw}
}

// apiserverPromotions returns the names of the Promotions in project.
func apiserverPromotions(t *testing.T, project string) []string {
	t.Helper()
	list := &kargoapi.PromotionList{}
	require.NoError(t, env.Admin.List(context.Background(), list, client.InNamespace(project)))
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names
}

// apiserverFreight reads the Freight as the admin.
func apiserverFreight(t *testing.T, f *kargoapi.Freight) *kargoapi.Freight {
	t.Helper()
	got := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(f), got))
	return got
}

// apiserverKargo runs a kargo command line through cli.Execute with the
// CLI's configuration in dir, and returns its exit code, stdout and
// stderr.
func apiserverKargo(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("KARGO_CONFIG", filepath.Join(dir, "config.yaml"))
	var stdout, stderr bytes.Buffer
	code := cli.Execute(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestAPIServerServiceAccountTokens attacks and uses kargo's API server
// under the shipped kargo-api role with TokenRequest ServiceAccount tokens,
// which carry a UID and extras (authentication.kubernetes.io/credential-id)
// that the server must pass on when it acts as its caller.
func TestAPIServerServiceAccountTokens(t *testing.T) {
	srv := apiserverStart(t, server.Options{})
	ctx := context.Background()
	project, f := apiserverProject(t, "sa-tokens")
	deployer := apiserverServiceAccount(t, project, "deployer", "kargo-promoter")
	ci := apiserverServiceAccount(t, project, "ci", "kargo-admin")
	idle := apiserverServiceAccount(t, project, "idle", "")
	env.Bind(t, project, kubetest.Adam, "ClusterRole", "kargo-admin")
	base := "/api/v1/projects/" + project

	t.Run("a ServiceAccount token carries the extras the server must impersonate", func(t *testing.T) {
		// Without extras this file would test nothing the static users
		// do not: check that TokenRequest tokens carry them here.
		cs, err := kubernetes.NewForConfig(env.Config)
		require.NoError(t, err)
		tr, err := cs.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: deployer},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		require.True(t, tr.Status.Authenticated)
		require.NotEmpty(t, tr.Status.User.UID)
		require.Contains(t, tr.Status.User.Extra, "authentication.kubernetes.io/credential-id")
		who := apiserverCall(t, srv, deployer, http.MethodGet, "/api/v1/whoami", nil)
		require.Equal(t, http.StatusOK, who.code, string(who.body))
		require.Contains(t, string(who.body), "system:serviceaccount:"+project+":deployer")
	})

	t.Run("a ServiceAccount token user with promote can promote through the API under the shipped role", func(t *testing.T) {
		r := apiserverCall(t, srv, deployer, http.MethodPost, base+"/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name})
		require.Equal(t, http.StatusCreated, r.code, string(r.body))
		var promo kargoapi.Promotion
		require.NoError(t, json.Unmarshal(r.body, &promo))
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(&promo), &kargoapi.Promotion{}))
	})

	t.Run("a ServiceAccount token user with promote can approve through the API", func(t *testing.T) {
		r := apiserverCall(t, srv, deployer, http.MethodPost, base+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "test"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		require.Contains(t, apiserverFreight(t, f).Status.ApprovedFor, "test")
	})

	t.Run("a ServiceAccount token admin can alias Freight through the API", func(t *testing.T) {
		r := apiserverCall(t, srv, ci, http.MethodPost, base+"/freight/"+f.Name+"/alias", apitypes.AliasRequest{Alias: "sa-alias"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		require.Equal(t, "sa-alias", apiserverFreight(t, f).Alias)
	})

	t.Run("a ServiceAccount token admin can refresh a Warehouse through the API", func(t *testing.T) {
		r := apiserverCall(t, srv, ci, http.MethodPost, base+"/warehouses/w/refresh", nil)
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		wh := &kargoapi.Warehouse{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "w"}, wh))
		require.NotEmpty(t, wh.Annotations[kargoapi.RefreshAnnotationKey])
	})

	t.Run("a ServiceAccount token admin can apply manifests through the API", func(t *testing.T) {
		manifest := fmt.Sprintf("apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: applied\n  namespace: %s\nspec:\n  subscriptions:\n    warehouse: w\n", project)
		r := apiserverCall(t, srv, ci, http.MethodPost, "/api/v1/apply", apitypes.ManifestRequest{Manifests: manifest})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		var res apitypes.ManifestResult
		require.NoError(t, json.Unmarshal(r.body, &res))
		require.Len(t, res.Results, 1)
		require.Nil(t, res.Results[0].Error, string(r.body))
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "applied"}, &kargoapi.Stage{}))
	})

	t.Run("a ServiceAccount token cannot impersonate someone else through the API", func(t *testing.T) {
		before := apiserverPromotions(t, project)
		// idle holds no right; adam administers the project. Kubernetes'
		// impersonation headers sent to kargo's API server must not make
		// it act as adam, nor as the cluster's administrators.
		for _, h := range [][]string{
			{"Impersonate-User", kubetest.Adam},
			{"Impersonate-User", "admin", "Impersonate-Group", "system:masters"},
			{"Impersonate-Uid", "uid-adam", "Impersonate-Extra-Scopes", "all"},
		} {
			r := apiserverCall(t, srv, idle, http.MethodPost, base+"/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name}, h...)
			require.Equal(t, http.StatusForbidden, r.code, string(r.body))
			require.Contains(t, string(r.body), "system:serviceaccount:"+project+":idle")
			who := apiserverCall(t, srv, idle, http.MethodGet, "/api/v1/whoami", nil, h...)
			require.Contains(t, string(who.body), "system:serviceaccount:"+project+":idle")
		}
		r := apiserverCall(t, srv, idle, http.MethodPost, base+"/freight/"+f.Name+"/alias", apitypes.AliasRequest{Alias: "hijacked"}, "Impersonate-User", kubetest.Adam)
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
		require.Equal(t, before, apiserverPromotions(t, project))
		require.NotEqual(t, "hijacked", apiserverFreight(t, f).Alias)
	})

	t.Run("a ServiceAccount token user logs in and promotes with the kargo CLI as docs/cli.md shows", func(t *testing.T) {
		dir := t.TempDir()
		tokenFile := filepath.Join(dir, "token")
		require.NoError(t, os.WriteFile(tokenFile, []byte(deployer+"\n"), 0o600))
		code, out, errOut := apiserverKargo(t, dir, "login", srv.URL, "--token-file", tokenFile)
		require.Equal(t, cli.ExitOK, code, errOut)
		require.Contains(t, out, "system:serviceaccount:"+project+":deployer")
		before := len(apiserverPromotions(t, project))
		code, out, errOut = apiserverKargo(t, dir, "promote", "--project", project, "--stage", "test", "--freight", f.Name)
		require.Equal(t, cli.ExitOK, code, errOut)
		require.Len(t, apiserverPromotions(t, project), before+1, out)
		code, _, errOut = apiserverKargo(t, dir, "approve", "--project", project, "--stage", "test", "--freight", f.Name)
		require.Equal(t, cli.ExitOK, code, errOut)
	})

	t.Run("a static-token user promotes and aliases through the API under the shipped role", func(t *testing.T) {
		r := apiserverCall(t, srv, kubetest.Token(kubetest.Adam), http.MethodPost, base+"/stages/test/promote", apitypes.PromoteRequest{Freight: f.Name})
		require.Equal(t, http.StatusCreated, r.code, string(r.body))
		r = apiserverCall(t, srv, kubetest.Token(kubetest.Adam), http.MethodPost, base+"/freight/"+f.Name+"/alias", apitypes.AliasRequest{Alias: "adam-alias"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
	})
}

// apiserverEvent is one event of a watch as it came over the wire, and
// when.
type apiserverEvent struct {
	apitypes.WatchEvent
	at time.Time
}

// apiserverWatch opens a watch with token and returns its events; the
// channel closes when the server ends the stream.
func apiserverWatch(t *testing.T, srv *apiserver.Server, token, path string) <-chan apiserverEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events := make(chan apiserverEvent, 1024)
	go func() {
		defer resp.Body.Close()
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev apitypes.WatchEvent
			if json.Unmarshal([]byte(data), &ev) != nil {
				return
			}
			select {
			case events <- apiserverEvent{WatchEvent: ev, at: time.Now()}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return events
}

// apiserverUntil returns the events of a watch up to the first that
// satisfies stop (included), failing the test when none comes within
// timeout or the watch ends before.
func apiserverUntil(t *testing.T, events <-chan apiserverEvent, timeout time.Duration, what string, stop func(apiserverEvent) bool) []apiserverEvent {
	t.Helper()
	deadline := time.After(timeout)
	var got []apiserverEvent
	for {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "the watch ended before %s", what)
			got = append(got, ev)
			if stop(ev) {
				return got
			}
		case <-deadline:
			t.Fatalf("no %s within %s", what, timeout)
		}
	}
}

// TestAPIServerLongLivedWatches: a watch is authorized again while it
// runs, and ends within a bound, so that it does not outlive the caller's
// rights.
func TestAPIServerLongLivedWatches(t *testing.T) {
	const recheck = 500 * time.Millisecond
	srv := apiserverStart(t, server.Options{WatchRecheck: recheck})
	ctx := context.Background()
	project, f := apiserverProject(t, "watch-revoked")
	watcher := apiserverServiceAccount(t, project, "watcher", "kargo-viewer")

	t.Run("a watch ends after the user's RoleBinding is deleted, and nothing of the project follows", func(t *testing.T) {
		events := apiserverWatch(t, srv, watcher, "/api/v1/projects/"+project+"/freight?watch=true")
		apiserverUntil(t, events, 30*time.Second, "the end of the replay", func(ev apiserverEvent) bool { return ev.Type == apitypes.WatchSynced })

		// Changes keep coming while and after the right is revoked.
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"metadata":{"annotations":{"tick":"%d"}}}`, i))
				_ = env.Admin.Patch(ctx, f.DeepCopy(), patch)
			}
		}()
		defer func() { close(stop); <-done }()
		// While the right holds, the rechecks let the changes through.
		held := time.Now().Add(4 * recheck)
		apiserverUntil(t, events, 30*time.Second, "changes across several rechecks", func(ev apiserverEvent) bool {
			require.Equal(t, "MODIFIED", ev.Type, string(ev.Object))
			return ev.at.After(held)
		})

		revoked := time.Now()
		require.NoError(t, env.Admin.Delete(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "watcher-kargo-viewer"}}))
		// The bound: one recheck interval, plus slack for a busy machine.
		bound := recheck + 5*time.Second
		got := apiserverUntil(t, events, bound, "the watch's end with a refusal", func(ev apiserverEvent) bool { return ev.Type == apitypes.WatchError })
		end := got[len(got)-1]
		t.Logf("the watch ended %s after the RoleBinding was deleted", end.at.Sub(revoked).Round(time.Millisecond))
		var status metav1.Status
		require.NoError(t, json.Unmarshal(end.Object, &status))
		require.Equal(t, int32(http.StatusForbidden), status.Code, string(end.Object))
		require.Contains(t, status.Message, "system:serviceaccount:"+project+":watcher")
		// Nothing after the refusal: the stream is closed.
		select {
		case ev, ok := <-events:
			require.False(t, ok, "an event after the refusal: %s %s", ev.Type, ev.Object)
		case <-time.After(10 * time.Second):
			t.Fatal("the stream stayed open after the refusal")
		}
		// And a new watch is refused outright.
		r := apiserverCall(t, srv, watcher, http.MethodGet, "/api/v1/projects/"+project+"/freight?watch=true", nil)
		require.Equal(t, http.StatusForbidden, r.code, string(r.body))
	})

	t.Run("a watch ends when it reaches its lifetime, and says so", func(t *testing.T) {
		const lifetime = 2 * time.Second
		short := apiserverStart(t, server.Options{WatchLifetime: lifetime})
		viewer := apiserverServiceAccount(t, project, "viewer", "kargo-viewer")
		opened := time.Now()
		events := apiserverWatch(t, short, viewer, "/api/v1/projects/"+project+"/freight?watch=true")
		got := apiserverUntil(t, events, lifetime+10*time.Second, "the end of the watch", func(ev apiserverEvent) bool { return ev.Type == apitypes.WatchReconnect })
		last := got[len(got)-1]
		require.LessOrEqual(t, last.at.Sub(opened), lifetime+2*time.Second)
		require.GreaterOrEqual(t, last.at.Sub(opened), lifetime*3/4)
		_, ok := <-events
		require.False(t, ok, "the stream is closed after RECONNECT")
	})
}

// TestAPIServerUnauthenticatedCost: requests without a good token cost the
// Kubernetes API server one TokenReview per distinct token, not one per
// request.
func TestAPIServerUnauthenticatedCost(t *testing.T) {
	srv, counts := apiserverStartCounting(t, server.Options{})
	project, _ := apiserverProject(t, "token-flood")
	const reviews = "/apis/authentication.k8s.io/v1/tokenreviews"

	t.Run("a flood of bad tokens costs at most one TokenReview per token", func(t *testing.T) {
		before := counts.of(reviews)
		bad := []string{"not-a-token", "kubetest-token-mallory", "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjk5OTk5OTk5OTl9.Zm9yZ2Vk"}
		var wg sync.WaitGroup
		codes := make(chan int, 300)
		for i := range 300 {
			wg.Go(func() {
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/projects/"+project+"/stages", nil)
				if err != nil {
					codes <- 0
					return
				}
				req.Header.Set("Authorization", "Bearer "+bad[i%len(bad)])
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					codes <- 0
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			})
		}
		wg.Wait()
		close(codes)
		for code := range codes {
			require.Equal(t, http.StatusUnauthorized, code)
		}
		got := counts.of(reviews) - before
		t.Logf("300 requests with %d bad tokens cost %d TokenReviews", len(bad), got)
		require.LessOrEqual(t, got, len(bad))
	})

	t.Run("a remembered refusal does not shadow a good token", func(t *testing.T) {
		good := apiserverServiceAccount(t, project, "late", "kargo-viewer")
		r := apiserverCall(t, srv, good, http.MethodGet, "/api/v1/projects/"+project+"/stages", nil)
		require.Equal(t, http.StatusOK, r.code, string(r.body))
	})
}

// apiserverReceiver serves the webhook receiver as the controller manager
// does (its secret cache, the controller's identity with the shipped
// roles), with the given bounds, and counts its requests to the
// Kubernetes API server.
func apiserverReceiver(t *testing.T, rx *webhookreceiver.Receiver) (*httptest.Server, *apiserverCounts) {
	t.Helper()
	cfg, err := env.UserConfig(controllers.ServiceAccount, "system:serviceaccounts", "system:serviceaccounts:"+install.Namespace, "system:authenticated")
	require.NoError(t, err)
	counts := &apiserverCounts{byPath: map[string]int{}}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return apiserverCountingTransport{counts: counts, next: rt}
	}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	secrets, err := webhookreceiver.NewSecretCache(cfg, cache.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- secrets.Start(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	_, err = secrets.GetInformer(ctx, &corev1.Secret{})
	require.NoError(t, err)
	require.True(t, secrets.WaitForCacheSync(ctx))
	rx.Client, rx.Secrets = c, secrets
	srv := httptest.NewUnstartedServer(rx)
	srv.Config.ReadHeaderTimeout = 10 * time.Second // as the controller manager serves it
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, counts
}

// apiserverPush posts body to the receiver, signed with secret (unsigned
// when nil), and returns the status code and the answer.
func apiserverPush(t *testing.T, srv *httptest.Server, project string, secret []byte, body string, header ...string) (int, webhookreceiver.Result) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/"+project+"/github", strings.NewReader(body))
	require.NoError(t, err)
	if secret != nil {
		req.Header.Set(webhookreceiver.SignatureHeader, "sha256="+hex.EncodeToString(webhookreceiver.Sign(secret, []byte(body))))
	}
	req.Header.Set("X-GitHub-Event", "push")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var res webhookreceiver.Result
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	}
	return resp.StatusCode, res
}

// TestAPIServerWebhookReceiver attacks the push-notification receiver,
// which anyone who can reach it may call.
func TestAPIServerWebhookReceiver(t *testing.T) {
	ctx := context.Background()
	project := env.NewProject(t, "webhooks")
	secret := []byte("webhook-secret")
	require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: webhookreceiver.SecretName},
		Data:       map[string][]byte{webhookreceiver.SecretKey: secret},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "w"},
		Spec: kargoapi.WarehouseSpec{
			Interval:      &metav1.Duration{Duration: time.Hour},
			Subscriptions: kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: "https://git.invalid/example/app.git"}}},
		},
	}))
	refreshToken := func() string {
		wh := &kargoapi.Warehouse{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "w"}, wh))
		return wh.Annotations[kargoapi.RefreshAnnotationKey]
	}
	push := func(after string) string {
		return fmt.Sprintf(`{"ref":"refs/heads/main","after":%q,"repository":{"clone_url":"https://git.invalid/example/app.git"}}`, after)
	}
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC).UnixNano())
	rx := &webhookreceiver.Receiver{
		BodyTimeout:  time.Second,
		ReplayWindow: time.Hour,
		Now:          func() time.Time { return time.Unix(0, clock.Add(int64(time.Millisecond))) },
	}
	srv, counts := apiserverReceiver(t, rx)

	t.Run("a signed push refreshes the Warehouse", func(t *testing.T) {
		code, res := apiserverPush(t, srv, project, secret, push("1111"))
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, []string{"warehouse/w"}, res.Refreshed)
	})

	t.Run("a replayed webhook delivery is ignored", func(t *testing.T) {
		before := refreshToken()
		require.NotEmpty(t, before)
		// The delivery header is not signed: a fresh one does not make a
		// captured body new.
		code, res := apiserverPush(t, srv, project, secret, push("1111"), "X-GitHub-Delivery", "a-fresh-guid")
		require.Equal(t, http.StatusOK, code)
		require.True(t, res.Replayed)
		require.Empty(t, res.Refreshed)
		require.Equal(t, before, refreshToken(), "a replay refreshes nothing")
		// A new push is a new body.
		code, res = apiserverPush(t, srv, project, secret, push("2222"))
		require.Equal(t, http.StatusOK, code)
		require.False(t, res.Replayed)
		require.NotEqual(t, before, refreshToken())
	})

	t.Run("a slow webhook body is cut off", func(t *testing.T) {
		before := refreshToken()
		body := push("3333")
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		defer conn.Close()
		sig := "sha256=" + hex.EncodeToString(webhookreceiver.Sign(secret, []byte(body)))
		_, err = fmt.Fprintf(conn, "POST /webhooks/%s/github HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s: %s\r\n\r\n",
			project, len(body), webhookreceiver.SignatureHeader, sig)
		require.NoError(t, err)
		// One byte every 100 ms: the body would take seconds.
		started := time.Now()
		answered := make(chan string, 1)
		go func() {
			raw, _ := io.ReadAll(conn)
			answered <- string(raw)
		}()
		var reply string
	trickle:
		for i := 0; i < len(body); i++ {
			select {
			case reply = <-answered:
				break trickle
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				reply = <-answered
				break
			}
		}
		took := time.Since(started)
		t.Logf("the receiver cut the slow body off after %s: %q", took.Round(time.Millisecond), strings.SplitN(reply, "\r\n", 2)[0])
		require.Contains(t, reply, "408", "the slow sender is told its body timed out")
		require.Less(t, took, 5*time.Second, "the body timeout is a second")
		require.Equal(t, before, refreshToken(), "nothing was refreshed")
	})

	t.Run("a flood of badly signed webhook requests costs the Kubernetes API server nothing", func(t *testing.T) {
		before := refreshToken()
		counts.mu.Lock()
		calls := 0
		for _, n := range counts.byPath {
			calls += n
		}
		counts.mu.Unlock()
		for i := range 200 {
			var code int
			switch i % 3 {
			case 0:
				code, _ = apiserverPush(t, srv, project, nil, push(fmt.Sprint(i)))
			case 1:
				code, _ = apiserverPush(t, srv, project, []byte("guess"), push(fmt.Sprint(i)))
			case 2:
				code, _ = apiserverPush(t, srv, fmt.Sprintf("no-such-project-%d", i), secret, push(fmt.Sprint(i)))
			}
			require.Equal(t, http.StatusUnauthorized, code)
		}
		counts.mu.Lock()
		after := 0
		for _, n := range counts.byPath {
			after += n
		}
		counts.mu.Unlock()
		require.Equal(t, calls, after, "API calls made for requests nobody signed: %v", counts.byPath)
		require.Equal(t, before, refreshToken())
	})

	t.Run("a rotated webhook secret stops working once the change is seen", func(t *testing.T) {
		s := &corev1.Secret{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: webhookreceiver.SecretName}, s))
		s.Data[webhookreceiver.SecretKey] = []byte("rotated")
		require.NoError(t, env.Admin.Update(ctx, s))
		n := 0
		kubetest.Eventually(t, 10*time.Second, "the old secret is refused", func() (bool, string) {
			n++
			code, _ := apiserverPush(t, srv, project, secret, push(fmt.Sprintf("rotation-%d", n)))
			return code == http.StatusUnauthorized, fmt.Sprint(code)
		})
		code, _ := apiserverPush(t, srv, project, []byte("rotated"), push("after-rotation"))
		require.Equal(t, http.StatusOK, code)
	})
}

// TestAPIServerAnswersRevealOnlyWhatTheCallerMayRead: approve and verify
// take the promote verb and write with the server's own rights; their
// answers must not hand a user who holds promote alone the objects they
// may not read.
func TestAPIServerAnswersRevealOnlyWhatTheCallerMayRead(t *testing.T) {
	srv := apiserverStart(t, server.Options{})
	ctx := context.Background()
	project, f := apiserverProject(t, "answers")
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "promote-only"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"stages"}, Verbs: []string{"promote"}}},
	}))
	gate := apiserverToken(t, project, "gate")
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "gate-promote-only"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "promote-only"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: project, Name: "gate"}},
	}))
	promoter := apiserverServiceAccount(t, project, "promoter", "kargo-promoter")
	// Something to hide: an annotation on the Stage, an alias on the
	// Freight.
	st := &kargoapi.Stage{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "test"}, st))
	st.Annotations = map[string]string{"example.com/internal": "do-not-show"}
	require.NoError(t, env.Admin.Update(ctx, st))
	stored := apiserverFreight(t, f)
	stored.Alias = "secret-alias"
	require.NoError(t, env.Admin.Update(ctx, stored))
	base := "/api/v1/projects/" + project

	t.Run("a promote-only user may not read the Freight or the Stage", func(t *testing.T) {
		require.Equal(t, http.StatusForbidden, apiserverCall(t, srv, gate, http.MethodGet, base+"/freight/"+f.Name, nil).code)
		require.Equal(t, http.StatusForbidden, apiserverCall(t, srv, gate, http.MethodGet, base+"/stages/test", nil).code)
	})

	t.Run("a promote-only user's approve answer reveals nothing beyond what they could read", func(t *testing.T) {
		r := apiserverCall(t, srv, gate, http.MethodPost, base+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "test"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		require.Contains(t, apiserverFreight(t, f).Status.ApprovedFor, "test", "the approval was made")
		for _, hidden := range []string{"registry.invalid", "images", "origin", "secret-alias", "uid", "creationTimestamp"} {
			require.NotContains(t, string(r.body), hidden)
		}
		var got kargoapi.Freight
		require.NoError(t, json.Unmarshal(r.body, &got))
		require.Equal(t, f.Name, got.Name)
		require.Contains(t, got.Status.ApprovedFor, "test")
		// Approving again answers the same.
		again := apiserverCall(t, srv, gate, http.MethodPost, base+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "test"})
		require.Equal(t, http.StatusOK, again.code)
		require.NotContains(t, string(again.body), "registry.invalid")
	})

	t.Run("a promote-only user's verify answer reveals nothing of the Stage", func(t *testing.T) {
		r := apiserverCall(t, srv, gate, http.MethodPost, base+"/stages/test/verify", apitypes.VerifyRequest{})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		for _, hidden := range []string{"do-not-show", "subscriptions", "warehouse", "uid"} {
			require.NotContains(t, string(r.body), hidden)
		}
		require.Contains(t, string(r.body), kargoapi.ReverifyAnnotationKey)
	})

	t.Run("a user who may read them gets the whole Freight and Stage", func(t *testing.T) {
		r := apiserverCall(t, srv, promoter, http.MethodPost, base+"/freight/"+f.Name+"/approve", apitypes.ApproveRequest{Stage: "test"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		require.Contains(t, string(r.body), "registry.invalid")
		r = apiserverCall(t, srv, promoter, http.MethodPost, base+"/stages/test/verify", apitypes.VerifyRequest{})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		require.Contains(t, string(r.body), "do-not-show")
	})
}

// TestAPIServerLocalAdminAPIAddress: kargo local's API server speaks plain
// HTTP and its admin token is a cluster administrator's; it is not served
// where others can reach it unless the user insists.
func TestAPIServerLocalAdminAPIAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		t.Run("kargo local --api-addr "+addr+" refuses to serve the admin API over plain HTTP", func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "local")
			code, _, errOut := apiserverKargo(t, t.TempDir(), "local", "--data-dir", dataDir, "--bin-dir", env.BinDir, "--api-addr", addr)
			require.Equal(t, cli.ExitUsage, code, errOut)
			require.Contains(t, errOut, "not a loopback address")
			require.Contains(t, errOut, "--insecure-public-api")
			_, err := os.Stat(dataDir)
			require.True(t, os.IsNotExist(err), "nothing was started or written: %v", err)
		})
	}
}
