package verification

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

var (
	verificationsStarted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kargo_verifications_started_total",
		Help: "Verifications that started (their checks began, or health was all there was to wait for), by project and Stage.",
	}, []string{"project", "stage"})
	verificationsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kargo_verifications_finished_total",
		Help: "Verifications that ended after they started, by project, Stage and outcome (Successful, Failed, Error, Aborted).",
	}, []string{"project", "stage", "outcome"})
	verificationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kargo_verification_duration_seconds",
		Help:    "Time from a verification's start to its end, by project, Stage and outcome.",
		Buckets: []float64{0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
	}, []string{"project", "stage", "outcome"})
)

func init() {
	metrics.Registry.MustRegister(verificationsStarted, verificationsFinished, verificationDuration)
}

// observeEnd counts a verification that just ended, if it had started:
// one that ends while it waits for health (superseded, aborted) never ran.
func observeEnd(st *kargoapi.Stage, vi *kargoapi.VerificationInfo) {
	if vi.StartTime == nil {
		return
	}
	outcome := string(vi.Phase)
	verificationsFinished.WithLabelValues(st.Namespace, st.Name, outcome).Inc()
	verificationDuration.WithLabelValues(st.Namespace, st.Name, outcome).Observe(vi.FinishTime.Sub(vi.StartTime.Time).Seconds())
}
