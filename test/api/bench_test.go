package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"testing"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// BenchmarkListFreight10k lists a project of 10,000 Freight through the
// API server: the first page of 500 (the default page), and all of it by
// following continue tokens at the largest page size (5,000: the contract
// has no unlimited list). It reports the median and p99 latency of each
// and the heap in use afterwards, which covers the whole test process:
// the API server's cache, and also the kargo controllers' running beside
// it.
func BenchmarkListFreight10k(b *testing.B) {
	const n = 10000
	ns := env.NewProject(b, "bench-10k")
	start := time.Now()
	createMany(b, n, func(i int) *kargoapi.Freight {
		return objects.Freight(ns, objects.Image("registry.example.com/app", fmt.Sprintf("bench-%d", i)))
	})
	b.Logf("created %d Freight in %s (16 workers)", n, time.Since(start).Round(time.Millisecond))
	waitForFreight(b, ns, n)

	hc := &http.Client{}
	get := func(path string) ([]byte, time.Duration) {
		req, err := http.NewRequest(http.MethodGet, api.URL+path, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+kubetest.Token(admin))
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		took := time.Since(t0)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, err, raw)
		}
		return raw, took
	}
	list := "/api/v1/projects/" + ns + "/freight"

	var page, all []time.Duration
	var pageBytes int
	for b.Loop() {
		raw, took := get(list + "?limit=500")
		page = append(page, took)
		pageBytes = len(raw)

		var total time.Duration
		items, next := 0, ""
		for {
			path := list + "?limit=5000"
			if next != "" {
				path += "&continue=" + next
			}
			raw, took := get(path)
			total += took
			var l apitypes.List
			if err := json.Unmarshal(raw, &l); err != nil {
				b.Fatal(err)
			}
			items += len(l.Items)
			if next = l.Continue; next == "" {
				break
			}
		}
		if items != n {
			b.Fatalf("listed %d Freight, want %d", items, n)
		}
		all = append(all, total)
	}

	b.ReportMetric(percentile(page, 50), "page500-p50-ms")
	b.ReportMetric(percentile(page, 99), "page500-p99-ms")
	b.ReportMetric(percentile(all, 50), "all10k-p50-ms")
	b.ReportMetric(percentile(all, 99), "all10k-p99-ms")
	b.ReportMetric(float64(pageBytes)/1024, "page500-KiB")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MB")
}

// percentile returns the p-th percentile of ds in milliseconds.
func percentile(ds []time.Duration, p int) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := min(len(s)*p/100, len(s)-1)
	return float64(s[i].Microseconds()) / 1000
}

// BenchmarkAccess50Stages asks what a user may do with 50 Stages, as the web
// UI does when it opens a project of 50 Stages: 52 SelfSubjectAccessReviews
// (promote on each Stage, create on promotions, update on freights), eight
// at a time, none remembered. It reports the median and p99 latency of the
// answer.
func BenchmarkAccess50Stages(b *testing.B) {
	kargoDemo(b)
	q := url.Values{}
	for i := range 50 {
		q.Add("stage", fmt.Sprintf("stage-%d", i))
	}
	path := api.URL + "/api/v1/projects/" + demo + "/access?" + q.Encode()
	hc := &http.Client{}
	var took []time.Duration
	for b.Loop() {
		req, err := http.NewRequest(http.MethodGet, path, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+kubetest.Token(bob))
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var a apitypes.Access
		err = json.NewDecoder(resp.Body).Decode(&a)
		_ = resp.Body.Close()
		took = append(took, time.Since(t0))
		if err != nil || resp.StatusCode != http.StatusOK || len(a.Stages) != 50 {
			b.Fatalf("GET access: %d %v, %d Stages answered", resp.StatusCode, err, len(a.Stages))
		}
	}
	b.ReportMetric(percentile(took, 50), "p50-ms")
	b.ReportMetric(percentile(took, 99), "p99-ms")
}
