package discovery

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Source kinds, the source label of the discovery metrics.
const (
	sourceGit   = "git"
	sourceImage = "image"
	sourceChart = "chart"
)

var (
	discoveryDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kargo_discovery_duration_seconds",
		Help: "How long one discovery of all of a subscriber's subscriptions took, by project, subscriber kind (Warehouse or Stage) and name.",
		// A listing shared with other subscribers costs nothing; a cold
		// clone of a large repository can take minutes.
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180},
	}, []string{"project", "kind", "name"})
	discoveryErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kargo_discovery_errors_total",
		Help: "Subscriptions whose discovery failed, by project and source kind (git, image, chart).",
	}, []string{"project", "source"})
	discoveredArtifacts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kargo_discovery_artifacts",
		Help: "Artifacts the subscriber's last discovery found (at most " +
			"the per-subscription maximum kept in status.discoveredArtifacts), by project, subscriber kind and name, and source kind.",
	}, []string{"project", "kind", "name", "source"})
)

func init() {
	metrics.Registry.MustRegister(discoveryDuration, discoveryErrors, discoveredArtifacts)
}

// observe records one discovery of req that started at start.
func observe(req Request, start time.Time, res Result) {
	for _, f := range res.Failures {
		discoveryErrors.WithLabelValues(req.Namespace, sourceOf(f.Subscription)).Inc()
	}
	o := req.Origin
	if o.Name == "" {
		return
	}
	discoveryDuration.WithLabelValues(req.Namespace, string(o.Kind), o.Name).Observe(time.Since(start).Seconds())
	for source, n := range map[string]int{
		sourceGit:   len(res.Candidates.Commits),
		sourceImage: len(res.Candidates.Images),
		sourceChart: len(res.Candidates.Charts),
	} {
		if n > 0 || len(res.Failures) == 0 {
			discoveredArtifacts.WithLabelValues(req.Namespace, string(o.Kind), o.Name, source).Set(float64(n))
		}
	}
}

// sourceOf is the source kind of a Failure's subscription name.
func sourceOf(subscription string) string {
	kind, _, _ := strings.Cut(subscription, " ")
	return kind
}

// Forget drops the per-subscriber series of a Warehouse or Stage that no
// longer exists, so that gauges do not report it forever.
func Forget(namespace string, origin kargoapi.FreightOrigin) {
	discoveryDuration.DeleteLabelValues(namespace, string(origin.Kind), origin.Name)
	for _, source := range []string{sourceGit, sourceImage, sourceChart} {
		discoveredArtifacts.DeleteLabelValues(namespace, string(origin.Kind), origin.Name, source)
	}
}
