package promotion

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

var (
	promotionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kargo_promotions_total",
		Help: "Promotions that ended, by project, Stage and phase.",
	}, []string{"project", "stage", "phase"})
	promotionDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kargo_promotion_duration_seconds",
		Help:    "Time from a Promotion's start to its end, by project, Stage and phase.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{"project", "stage", "phase"})
)

func init() {
	metrics.Registry.MustRegister(promotionsTotal, promotionDuration)
}

// observe counts an ended Promotion and, if it ran, its duration.
func observe(p *kargoapi.Promotion, phase kargoapi.PromotionPhase, now time.Time) {
	promotionsTotal.WithLabelValues(p.Namespace, p.Spec.Stage, string(phase)).Inc()
	if p.Status.StartTime != nil {
		promotionDuration.WithLabelValues(p.Namespace, p.Spec.Stage, string(phase)).Observe(now.Sub(p.Status.StartTime.Time).Seconds())
	}
}
