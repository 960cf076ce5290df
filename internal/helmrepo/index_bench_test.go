package helmrepo

import (
	"fmt"
	"testing"
	"time"

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
