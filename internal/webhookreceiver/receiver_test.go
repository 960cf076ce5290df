package webhookreceiver

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

func post(t *testing.T, srv *httptest.Server, path string, secret []byte, body string, header map[string]string) (*http.Response, Result) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewBufferString(body))
	require.NoError(t, err)
	if secret != nil {
		req.Header.Set(SignatureHeader, "sha256="+hex.EncodeToString(Sign(secret, []byte(body))))
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var res Result
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	}
	return resp, res
}

func TestPushRefreshesOnlyWatchersOfTheRepository(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "hooks")
	secret := []byte("s3cr3t")
	require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: ns},
		Data:       map[string][]byte{SecretKey: secret},
	}))
	mk := func(name string, subs kargoapi.RepoSubscriptions) {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       kargoapi.WarehouseSpec{Subscriptions: subs},
		}))
	}
	mk("demo", kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: "https://github.com/example/kargo-demo.git"}}})
	mk("demo-ssh", kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: "git@github.com:example/kargo-demo.git"}}})
	mk("other", kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: "https://github.com/example/other.git"}}})
	mk("nginx", kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: "nginx"}}})
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Repos: &kargoapi.RepoSubscriptions{
			Git: []kargoapi.GitSubscription{{RepoURL: "https://github.com/example/kargo-demo.git", Branch: "main"}},
		}}},
	}))

	now := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(&Receiver{Client: env.Admin, Secrets: env.Admin, Now: func() time.Time { return now }})
	defer srv.Close()
	push := `{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/example/kargo-demo.git","html_url":"https://github.com/example/kargo-demo"}}`

	annotations := func() map[string]string {
		got := map[string]string{}
		for _, name := range []string{"demo", "demo-ssh", "other", "nginx"} {
			wh := &kargoapi.Warehouse{}
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, wh))
			got[name] = wh.Annotations[kargoapi.RefreshAnnotationKey]
		}
		return got
	}
	untouched := annotations()

	// Refused requests change nothing.
	for name, tc := range map[string]struct {
		path   string
		secret []byte
		want   int
	}{
		"unsigned":        {"/webhooks/" + ns + "/github", nil, http.StatusUnauthorized},
		"wrong secret":    {"/webhooks/" + ns + "/github", []byte("guess"), http.StatusUnauthorized},
		"unknown project": {"/webhooks/nope/github", secret, http.StatusUnauthorized},
		"unknown kind":    {"/webhooks/" + ns + "/svn", secret, http.StatusNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			resp, _ := post(t, srv, tc.path, tc.secret, push, nil)
			require.Equal(t, tc.want, resp.StatusCode)
			require.Equal(t, untouched, annotations())
		})
	}
	resp, _ := post(t, srv, "/webhooks/"+ns+"/github", secret, push, map[string]string{"X-GitHub-Event": "ping"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, untouched, annotations())

	resp, res := post(t, srv, "/webhooks/"+ns+"/github", secret, push, map[string]string{"X-GitHub-Event": "push"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []string{"stage/test", "warehouse/demo", "warehouse/demo-ssh"}, res.Refreshed)
	got := annotations()
	require.Equal(t, "2026-11-21T20:00:00Z", got["demo"])
	require.Equal(t, "2026-11-21T20:00:00Z", got["demo-ssh"])
	require.Empty(t, got["other"])
	require.Empty(t, got["nginx"])

	resp, res = post(t, srv, "/webhooks/"+ns+"/registry", secret, `{"repository":"docker.io/library/nginx","tag":"1.25.0"}`, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []string{"warehouse/nginx"}, res.Refreshed)
}

func TestReplayWindow(t *testing.T) {
	now := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	rc := &Receiver{ReplayWindow: time.Minute, Now: func() time.Time { return now }}
	body := []byte(`{"after":"1111"}`)
	require.True(t, rc.firstDelivery("p", body))
	require.False(t, rc.firstDelivery("p", body), "the same body again is a replay")
	require.True(t, rc.firstDelivery("q", body), "another project's delivery is its own")
	require.True(t, rc.firstDelivery("p", []byte(`{"after":"2222"}`)))
	now = now.Add(time.Minute)
	require.True(t, rc.firstDelivery("p", body), "the window has passed")
	require.LessOrEqual(t, len(rc.seen), 3, "what left the window is forgotten")

	// Beyond the bound, the oldest are forgotten first.
	for i := range maxRemembered + 10 {
		rc.firstDelivery("p", fmt.Appendf(nil, "%d", i))
	}
	require.LessOrEqual(t, len(rc.seen), maxRemembered)
	require.Len(t, rc.order, len(rc.seen))
	require.False(t, rc.firstDelivery("p", fmt.Appendf(nil, "%d", maxRemembered+9)), "the newest are kept")
}

// When the Warehouse controller of this process acts on a push's refreshes
// itself, the receiver writes the refresh annotations after those passes
// (AnnotateAfter at most), so that they do not compete with the Freight the
// passes create; the answer comes once the annotations are written.
func TestAnnotationsFollowTheInProcessPasses(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "hooks")
	secret := []byte("s3cr3t")
	require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: ns},
		Data:       map[string][]byte{SecretKey: secret},
	}))
	for _, name := range []string{"a", "b"} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
				Git: []kargoapi.GitSubscription{{RepoURL: "https://github.com/example/mono.git"}},
			}},
		}))
	}
	annotation := func(name string) string {
		wh := &kargoapi.Warehouse{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, wh))
		return wh.Annotations[kargoapi.RefreshAnnotationKey]
	}
	push := func(after string) string {
		return fmt.Sprintf(`{"ref":"refs/heads/main","after":%q,"repository":{"clone_url":"https://github.com/example/mono.git"}}`, after)
	}

	t.Run("after the passes", func(t *testing.T) {
		passes := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
		told := make(chan string, 2)
		srv := httptest.NewServer(&Receiver{Client: env.Admin, Secrets: env.Admin, AnnotateAfter: time.Hour,
			Refreshed: func(obj client.Object, _ string) <-chan struct{} {
				told <- obj.GetName()
				return passes[obj.GetName()]
			}})
		defer srv.Close()
		answered := make(chan Result, 1)
		go func() {
			_, res := post(t, srv, "/webhooks/"+ns+"/github", secret, push("1111"), map[string]string{"X-GitHub-Event": "push"})
			answered <- res
		}()
		require.ElementsMatch(t, []string{"a", "b"}, []string{<-told, <-told})
		close(passes["a"])
		// The receiver waits for b's pass: no answer, no annotation.
		select {
		case <-answered:
			t.Fatal("the receiver answered before the pass it was waiting for ended")
		case <-time.After(300 * time.Millisecond):
		}
		require.Empty(t, annotation("a"))
		require.Empty(t, annotation("b"))
		close(passes["b"])
		res := <-answered
		require.Equal(t, []string{"warehouse/a", "warehouse/b"}, res.Refreshed)
		require.NotEmpty(t, annotation("a"))
		require.NotEmpty(t, annotation("b"))
	})

	t.Run("not longer than AnnotateAfter", func(t *testing.T) {
		before := annotation("a")
		never := make(chan struct{})
		srv := httptest.NewServer(&Receiver{Client: env.Admin, Secrets: env.Admin, AnnotateAfter: 50 * time.Millisecond,
			Refreshed: func(client.Object, string) <-chan struct{} { return never }})
		defer srv.Close()
		resp, res := post(t, srv, "/webhooks/"+ns+"/github", secret, push("2222"), map[string]string{"X-GitHub-Event": "push"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, []string{"warehouse/a", "warehouse/b"}, res.Refreshed)
		require.NotEqual(t, before, annotation("a"), "the annotation is the durable record, written whatever the passes do")
	})
}
