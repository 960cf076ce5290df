// Package controller assembles kargo's controllers into one
// controller-runtime manager. Each kind's reconciler lives in a sub-package
// named after the kind; this package only wires them together, so the same
// set runs in `kargo controller` on a cluster and in `kargo local`.
package controller

import (
	"fmt"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kargohq/kargo/internal/scheme"
)

// Options configures the manager.
type Options struct {
	// MetricsAddr is where Prometheus metrics are served; "0" turns them
	// off.
	MetricsAddr string
	// HealthAddr is where /healthz and /readyz are served; "0" turns them
	// off.
	HealthAddr string
	// LeaderElection makes only one of several replicas reconcile at a
	// time. A single local process does not need it.
	LeaderElection bool
	// LeaderElectionNamespace holds the election's Lease.
	LeaderElectionNamespace string
}

// setupFunc registers one controller with the manager.
type setupFunc func(mgr manager.Manager) error

// setups lists every controller kargo runs. Each issue that adds a kind's
// reconciler appends its SetupWithManager here.
var setups []setupFunc

// NewManager returns a manager with every kargo controller registered.
func NewManager(cfg *rest.Config, opts Options) (manager.Manager, error) {
	s, err := scheme.New()
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  s,
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:  opts.HealthAddr,
		LeaderElection:          opts.LeaderElection,
		LeaderElectionID:        "kargo-controller.kargo.akuity.io",
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
	})
	if err != nil {
		return nil, fmt.Errorf("create controller manager: %w", err)
	}
	for _, setup := range setups {
		if err := setup(mgr); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}
