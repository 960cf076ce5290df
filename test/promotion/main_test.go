// Package promotion tests Stages and Promotions end to end: the real
// controllers on a real kube-apiserver, promoting by committing to a real
// Git smart-HTTP server, with Freight from a real OCI registry.
package promotion

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/kargohq/kargo/internal/controller"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) {
	kubetest.Main(m, &env, func(e *kubetest.Env) (func(), error) {
		dir, err := os.MkdirTemp("", "kargo-promotion-")
		if err != nil {
			return nil, err
		}
		mgr, err := controller.NewManager(e.Config, controller.Options{MetricsAddr: "0", HealthAddr: "0", CacheDir: dir})
		if err != nil {
			return nil, fmt.Errorf("controller manager: %w", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				fmt.Fprintf(os.Stderr, "controller manager: %v\n", err)
			}
			_ = os.RemoveAll(dir)
		}, nil
	})
}
