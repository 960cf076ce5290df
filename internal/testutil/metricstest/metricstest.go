// Package metricstest reads kargo's Prometheus metrics in tests, from
// controller-runtime's registry, where the controllers and the API server
// of the test's own process register them: what a scrape of the metrics
// endpoint would show.
package metricstest

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Value sums the series of the metric name whose labels include labels: a
// counter's or a gauge's value, a histogram's number of observations. It
// is 0 when no series matches.
func Value(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	v, _ := Find(t, name, labels)
	return v
}

// Find is Value, and whether any series matched.
func Find(t testing.TB, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var sum float64
	found := false
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !matches(m, labels) {
				continue
			}
			found = true
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum, found
}

func matches(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// LabelValues returns the values the label takes among the series of the
// metric name, each once.
func LabelValues(t testing.TB, name, label string) []string {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && !seen[l.GetValue()] {
					seen[l.GetValue()] = true
					out = append(out, l.GetValue())
				}
			}
		}
	}
	return out
}
