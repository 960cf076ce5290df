package argocd

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
)

// readerApp is an Application at resourceVersion rv whose health says which
// copy it is.
func readerApp(ns string, rv int, health argocdv1.HealthStatusCode) *argocdv1.Application {
	return &argocdv1.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app", ResourceVersion: strconv.Itoa(rv)},
		Status:     argocdv1.ApplicationStatus{Health: argocdv1.HealthStatus{Status: health}},
	}
}

func readerClient(t *testing.T, apps ...*argocdv1.Application) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, argocdv1.AddToScheme(s))
	c := fake.NewClientBuilder().WithScheme(s).Build()
	for _, a := range apps {
		// The fake client takes no resourceVersion on create: write until
		// it has the one asked for.
		want, _ := strconv.Atoi(a.ResourceVersion)
		a.ResourceVersion = ""
		require.NoError(t, c.Create(context.Background(), a))
		for {
			rv, _ := strconv.Atoi(a.ResourceVersion)
			if rv >= want {
				break
			}
			require.NoError(t, c.Update(context.Background(), a))
		}
	}
	return c
}

func TestReaderReadsTheCacheUnlessKargoWroteSince(t *testing.T) {
	ctx := context.Background()
	key := client.ObjectKey{Namespace: "argocd", Name: "app"}
	cached := readerClient(t, readerApp("argocd", 3, argocdv1.HealthStatusHealthy))
	live := readerClient(t, readerApp("argocd", 7, argocdv1.HealthStatusProgressing))
	r := &Reader{Cache: cached, Live: live}
	health := func() argocdv1.HealthStatusCode {
		app := &argocdv1.Application{}
		require.NoError(t, r.Get(ctx, key, app))
		return app.Status.Health.Status
	}

	require.Equal(t, argocdv1.HealthStatusHealthy, health(), "nothing written: the cache answers")

	r.Wrote(readerApp("argocd", 7, ""))
	require.Equal(t, argocdv1.HealthStatusProgressing, health(), "the cache is older than kargo's write: read live")
	require.Equal(t, argocdv1.HealthStatusProgressing, health(), "still older: still live")

	// The watch delivers kargo's write: the cache answers again, for good.
	app := &argocdv1.Application{}
	require.NoError(t, cached.Get(ctx, key, app))
	for rv, _ := strconv.Atoi(app.ResourceVersion); rv < 7; rv, _ = strconv.Atoi(app.ResourceVersion) {
		app.Status.Health.Status = argocdv1.HealthStatusDegraded
		require.NoError(t, cached.Update(ctx, app))
	}
	require.Equal(t, argocdv1.HealthStatusDegraded, health())
	require.Empty(t, r.written, "the write is forgotten once the cache has seen it")
}

func TestReaderReadsLiveWhatItDoesNotWatch(t *testing.T) {
	ctx := context.Background()
	cached := readerClient(t, readerApp("argocd", 3, argocdv1.HealthStatusHealthy), readerApp("team", 3, argocdv1.HealthStatusHealthy))
	live := readerClient(t, readerApp("argocd", 5, argocdv1.HealthStatusMissing), readerApp("team", 5, argocdv1.HealthStatusMissing))
	for name, tc := range map[string]struct {
		r    *Reader
		ns   string
		want argocdv1.HealthStatusCode
	}{
		"no cache":                  {r: &Reader{Live: live}, ns: "argocd", want: argocdv1.HealthStatusMissing},
		"a watched namespace":       {r: &Reader{Cache: cached, Live: live, Namespaces: []string{"argocd"}}, ns: "argocd", want: argocdv1.HealthStatusHealthy},
		"a namespace not watched":   {r: &Reader{Cache: cached, Live: live, Namespaces: []string{"argocd"}}, ns: "team", want: argocdv1.HealthStatusMissing},
		"every namespace watched":   {r: &Reader{Cache: cached, Live: live}, ns: "team", want: argocdv1.HealthStatusHealthy},
		"written, not yet in cache": {r: func() *Reader { r := &Reader{Cache: cached, Live: live}; r.Wrote(readerApp("team", 4, "")); return r }(), ns: "team", want: argocdv1.HealthStatusMissing},
	} {
		t.Run(name, func(t *testing.T) {
			app := &argocdv1.Application{}
			require.NoError(t, tc.r.Get(ctx, client.ObjectKey{Namespace: tc.ns, Name: "app"}, app))
			require.Equal(t, tc.want, app.Status.Health.Status)
		})
	}
}
