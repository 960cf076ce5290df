package kubetest

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kargohq/kargo/internal/localcp"
)

// ArgoRolloutsBinDir returns the folder of a real Argo Rollouts controller:
// the one $ROLLOUTS_BINS names, or else the one hack/rollouts-bins.sh
// builds (a cache hit takes milliseconds; a cold build several minutes).
func ArgoRolloutsBinDir() (string, error) {
	return HackBuilt("ROLLOUTS_BINS", "rollouts-bins.sh", []string{"rollouts-controller"})
}

// WithArgoRollouts is a function for Main that starts a real Argo Rollouts
// controller (its analysis controller; see localcp.StartArgoRollouts)
// against the Env, with Argo Rollouts' own AnalysisTemplate,
// ClusterAnalysisTemplate and AnalysisRun CRDs, running as Argo Rollouts'
// ServiceAccount with the ClusterRole Argo Rollouts ships. It sets
// e.ArgoRollouts and prints the version it runs. Run it before the
// controllers start, so that they find the AnalysisRun type. When the
// controller cannot be built or started, Main fails the package.
func WithArgoRollouts(e *Env) (func(), error) {
	bins, err := ArgoRolloutsBinDir()
	if err != nil {
		return nil, fmt.Errorf("Argo Rollouts (build it with `make rollouts-bins`): %w", err)
	}
	user, groups := localcp.ArgoRolloutsUser()
	cfg, err := e.UserConfig(user, groups...)
	if err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "rollouts-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	r, err := localcp.StartArgoRollouts(ctx, localcp.ArgoRolloutsOptions{
		BinDir: bins, Config: e.Config, ControllerConfig: cfg, StateDir: state,
	})
	if err != nil {
		return nil, fmt.Errorf("start a real Argo Rollouts from %s (logs in %s): %w", bins, state, err)
	}
	fmt.Fprintf(os.Stderr, "kubetest: real Argo Rollouts %s (analysis controller) from %s ready in %s; log %s\n",
		r.Version, bins, time.Since(start).Round(100*time.Millisecond), r.LogPath())
	e.ArgoRollouts = r
	return func() {
		if err := r.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: stop Argo Rollouts: %v\n", err)
		}
		if os.Getenv("KARGO_KEEP_ROLLOUTS_LOGS") == "" {
			_ = os.RemoveAll(state)
		}
	}, nil
}
