package freight

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var freightCreated = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "kargo_freight_created_total",
	Help: "Freight the controller created, by project and origin kind (Warehouse or Stage) and name.",
}, []string{"project", "kind", "name"})

func init() {
	metrics.Registry.MustRegister(freightCreated)
}
