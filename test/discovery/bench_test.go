package discovery

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/metricstest"
	"github.com/kargohq/kargo/internal/webhookreceiver"
)

// BenchmarkWebhookToFreight measures, with 100 Warehouses watching
// different paths of one monorepo, the time from a signed push notification
// to the controller manager's receiver (as a cluster install runs it) to the
// new Freight of the Warehouse whose path the push touched, and the
// Git network operations each push costs. Run it with a fixed count, such as
// -benchtime=20x, so that the percentiles cover every push.
func BenchmarkWebhookToFreight(b *testing.B) {
	const warehouses = 100
	ctx := context.Background()
	ns := env.NewProject(b, "bench")
	gs := gitserver.New(b)
	controllers.AllowOutbound(b, gs.Host())
	gs.CreateRepo("mono")
	files := map[string]string{}
	for i := range warehouses {
		files[fmt.Sprintf("apps/app-%d/values.yaml", i)] = "replicas: 1\n"
	}
	gs.Commit(b, "mono", "main", files, "all apps")
	secret := []byte("bench-secret")
	require.NoError(b, env.Admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: webhookreceiver.SecretName, Namespace: ns},
		Data:       map[string][]byte{webhookreceiver.SecretKey: secret},
	}))
	for i := range warehouses {
		require.NoError(b, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i), Namespace: ns},
			Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{
				RepoURL: kargoapi.GitRepoURL(gs.RepoURL("mono")), Branch: "main",
				IncludePaths: []string{fmt.Sprintf("apps/app-%d/", i)},
			}}}},
		}))
	}
	// lastCommit is the commit of the Warehouse's newest Freight. Freight is
	// shared: Warehouses that find the same commit name the same Freight.
	lastCommit := func(name string) string {
		wh := &kargoapi.Warehouse{}
		require.NoError(b, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, wh))
		if wh.Status.LastFreight == nil {
			return ""
		}
		f := &kargoapi.Freight{}
		require.NoError(b, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: wh.Status.LastFreight.Name}, f))
		return f.Commits[0].ID
	}
	// waitFor follows the Warehouse with a watch rather than polling it:
	// a GET every few milliseconds would load the API server it measures.
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	require.NoError(b, err)
	waitFor := func(name, commit string) {
		wh := &kargoapi.Warehouse{}
		require.NoError(b, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, wh))
		if lastCommit(name) == commit {
			return
		}
		w, err := watcher.Watch(ctx, &kargoapi.WarehouseList{}, client.InNamespace(ns),
			client.MatchingFields{"metadata.name": name}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: wh.ResourceVersion}})
		require.NoError(b, err)
		defer w.Stop()
		seen := ""
		if wh.Status.LastFreight != nil {
			seen = wh.Status.LastFreight.Name
		}
		for ev := range w.ResultChan() {
			got, ok := ev.Object.(*kargoapi.Warehouse)
			if !ok || got.Status.LastFreight == nil || got.Status.LastFreight.Name == seen {
				continue
			}
			seen = got.Status.LastFreight.Name
			f := &kargoapi.Freight{}
			require.NoError(b, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: seen}, f))
			if f.Commits[0].ID == commit {
				return
			}
		}
		b.Fatalf("the watch of Warehouse %s ended before its Freight of %s", name, commit)
	}
	// Every Warehouse has produced its first Freight before measuring.
	for i := range warehouses {
		deadline := time.Now().Add(2 * time.Minute)
		for lastCommit(fmt.Sprintf("app-%d", i)) == "" {
			if time.Now().After(deadline) {
				wh := &kargoapi.Warehouse{}
				require.NoError(b, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("app-%d", i)}, wh))
				b.Fatalf("app-%d produced no Freight: %+v", i, wh.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	before := gs.Counts("mono")
	writesBefore := benchAPIWrites(b)
	procsBefore := metricstest.Value(b, "kargo_git_processes_total", nil)
	var latencies []time.Duration
	i := 0
	for b.Loop() {
		app := i % warehouses
		i++
		b.StopTimer()
		commit := gs.Commit(b, "mono", "main", map[string]string{fmt.Sprintf("apps/app-%d/values.yaml", app): fmt.Sprintf("replicas: %d\n", i+1)}, "bump")
		b.StartTimer()
		// Each push names its new head, as GitHub's do: the receiver
		// refuses a body it has seen within its replay window.
		push := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":%q,"repository":{"clone_url":%q}}`, commit, gs.RepoURL("mono")))
		start := time.Now()
		req, err := http.NewRequest(http.MethodPost, controllers.ReceiverURL+"/webhooks/"+ns+"/github", bytes.NewReader(push))
		require.NoError(b, err)
		req.Header.Set(webhookreceiver.SignatureHeader, "sha256="+hex.EncodeToString(webhookreceiver.Sign(secret, push)))
		// The receiver answers once it has written every refresh
		// annotation; the Freight may come before that.
		answered := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("receiver answered %s", resp.Status)
				}
			}
			answered <- err
		}()
		waitFor(fmt.Sprintf("app-%d", app), commit)
		latencies = append(latencies, time.Since(start))
		require.NoError(b, <-answered)
	}
	after := gs.Counts("mono")
	// The last Warehouses' passes may still be under way when the last
	// Freight lands: wait for the counts to settle before reading them.
	writes, procs := benchSettled(b, writesBefore, procsBefore)
	sort.Slice(latencies, func(a, c int) bool { return latencies[a] < latencies[c] })
	pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
	b.ReportMetric(float64(pct(0.50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(pct(0.99).Milliseconds()), "p99-ms")
	b.ReportMetric(float64(after.LsRefs-before.LsRefs)/float64(len(latencies)), "ls-remotes/push")
	b.ReportMetric(float64(after.Fetches-before.Fetches)/float64(len(latencies)), "fetches/push")
	b.ReportMetric(procs/float64(len(latencies)), "git-processes/push")
	total := 0.0
	keys := make([]string, 0, len(writes))
	for k, v := range writes {
		total += v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.Logf("API writes per push: %-60s %.2f", k, writes[k]/float64(len(latencies)))
	}
	b.ReportMetric(total/float64(len(latencies)), "api-writes/push")
}

// benchSettled waits until the kube-apiserver's write counts and the git
// processes started have not moved for two seconds (a minute at most), and
// returns what changed since writesBefore and procsBefore.
func benchSettled(b *testing.B, writesBefore map[string]float64, procsBefore float64) (map[string]float64, float64) {
	b.Helper()
	sum := func(m map[string]float64) (t float64) {
		for _, v := range m {
			t += v
		}
		return t
	}
	last, lastProcs := sum(benchAPIWrites(b)), metricstest.Value(b, "kargo_git_processes_total", nil)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
		now, procs := sum(benchAPIWrites(b)), metricstest.Value(b, "kargo_git_processes_total", nil)
		if now == last && procs == lastProcs {
			break
		}
		last, lastProcs = now, procs
	}
	writes := benchAPIWrites(b)
	for k, v := range writesBefore {
		writes[k] -= v
		if writes[k] == 0 {
			delete(writes, k)
		}
	}
	return writes, metricstest.Value(b, "kargo_git_processes_total", nil) - procsBefore
}

// benchAPIWrites returns the writes (create, update, patch, delete) this
// process (controllers, receiver, admission webhooks) has made to the
// kube-apiserver, by HTTP method, from client-go's request counts.
func benchAPIWrites(b *testing.B) map[string]float64 {
	b.Helper()
	out := map[string]float64{}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		out[m] = metricstest.Value(b, "rest_client_requests_total", map[string]string{"method": m})
	}
	return out
}
