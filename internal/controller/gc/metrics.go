package gc

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	deleted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kargo_gc_deleted_total",
		Help: "Freight and Promotions deleted by garbage collection, by kind.",
	}, []string{"kind"})
	passes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kargo_gc_passes_total",
		Help: "Garbage collection passes, by result (success, error).",
	}, []string{"result"})
	passDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kargo_gc_pass_duration_seconds",
		Help:    "How long one garbage collection pass over every project took.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
	})
)

func init() {
	metrics.Registry.MustRegister(deleted, passes, passDuration)
}
