package helmrepo

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/testutil/helmserver"
)

// bigIndex resembles a busy repository: 50 charts with 100 versions each.
func bigIndex(versionsPerChart int) []byte {
	var charts []helmserver.Chart
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for c := range 50 {
		for v := range versionsPerChart {
			charts = append(charts, helmserver.Chart{
				Name:       fmt.Sprintf("chart-%02d", c),
				Version:    fmt.Sprintf("%d.%d.%d", v/100, (v/10)%10, v%10),
				AppVersion: fmt.Sprintf("v%d.0", v),
				Created:    start.Add(time.Duration(v) * time.Hour),
			})
		}
	}
	return helmserver.BuildIndex(charts)
}

func BenchmarkIndexParse(b *testing.B) {
	data := bigIndex(100)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		idx, err := parseIndex(data)
		if err != nil {
			b.Fatal(err)
		}
		if len(idx.charts) != 50 {
			b.Fatalf("got %d charts", len(idx.charts))
		}
	}
}

// realisticIndex is an index.yaml of about size bytes whose entries carry
// what large public repositories' do (annotations, dependencies,
// maintainers, keywords, long descriptions), about 1.3 KB each: 28 MB is
// some 21,000 chart versions.
func realisticIndex(size int) []byte {
	var b strings.Builder
	b.Grow(size + 4096)
	b.WriteString("apiVersion: v1\nentries:\n")
	for c := 0; b.Len() < size; c++ {
		name := fmt.Sprintf("chart-%03d", c)
		fmt.Fprintf(&b, "  %s:\n", name)
		for v := 0; v < 200 && b.Len() < size; v++ {
			version := fmt.Sprintf("%d.%d.%d", v/100, (v/10)%10, v%10)
			sum := sha256.Sum256([]byte(name + version))
			fmt.Fprintf(&b, `  - annotations:
      category: Infrastructure
      images: |
        - name: %[1]s
          image: docker.io/example/%[1]s:%[2]s-debian-12-r%[3]d
        - name: os-shell
          image: docker.io/example/os-shell:12-debian-12-r%[3]d
      licenses: Apache-2.0
    apiVersion: v2
    appVersion: %[2]s
    created: "2024-05-%02[4]dT14:35:42.106232227Z"
    dependencies:
    - name: common
      repository: oci://registry-1.docker.io/examplecharts
      tags:
      - example-common
      version: 2.x.x
    description: %[1]s is a web server that can be also used as a reverse proxy,
      load balancer, and HTTP cache; this chart deploys it with sensible defaults.
    digest: %[5]x
    home: https://example.com/charts/%[1]s
    icon: https://example.com/assets/stacks/%[1]s/img/%[1]s-stack-220x234.png
    keywords:
    - %[1]s
    - http
    - web
    - www
    - reverse proxy
    maintainers:
    - name: Example, Inc.
      url: https://github.com/example/charts
    name: %[1]s
    sources:
    - https://github.com/example/charts/tree/main/example/%[1]s
    urls:
    - https://charts.example.com/example/%[1]s-%[2]s.tgz
    version: %[2]s
`, name, version, v, v%28+1, sum)
		}
	}
	return []byte(b.String())
}

// BenchmarkIndexMemory downloads and parses a 28 MB index.yaml, the size
// that took a controller from 61 to 378 MB, through a Client as discovery
// does, and reports the peak of the live heap during the discovery
// (peak-MiB, sampled every millisecond), what the Client keeps afterwards
// (retained-MiB: the parsed index in its cache) and the time.
func BenchmarkIndexMemory(b *testing.B) {
	data := realisticIndex(28 << 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data)
	}))
	b.Cleanup(srv.Close)
	policy := egress.New(egress.Options{Allow: egress.MustParseRules(srv.Listener.Addr().String())})
	sub := kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(srv.URL), Name: "chart-003"}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var peak, retained float64
	for b.Loop() {
		runtime.GC()
		base := liveHeap()
		c := NewClient(Options{Egress: policy, PerHostRate: rate.Inf})
		stop := samplePeak()
		got, err := c.Discover(context.Background(), sub, nil, 1)
		p := stop()
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 1 {
			b.Fatalf("got %d versions", len(got))
		}
		runtime.GC()
		peak = max(peak, float64(p-base)/(1<<20))
		retained = float64(liveHeap()-base) / (1 << 20)
		runtime.KeepAlive(c)
	}
	b.ReportMetric(peak, "peak-MiB")
	b.ReportMetric(retained, "retained-MiB")
	b.ReportMetric(float64(len(data))/(1<<20), "index-MiB")
}

// liveHeap is the bytes of live and not yet swept heap objects.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// samplePeak samples liveHeap every millisecond until the returned
// function is called, which returns the highest value seen.
func samplePeak() func() uint64 {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, liveHeap())
			select {
			case <-done:
				result <- max(peak, liveHeap())
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-result
	}
}
