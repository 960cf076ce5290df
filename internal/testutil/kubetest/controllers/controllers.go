// Package controllers runs kargo's controller manager beside a kubetest
// environment, for integration tests of controllers end to end. It is a
// package of its own so that kubetest does not depend on the controllers.
package controllers

import (
	"context"
	"fmt"
	"os"

	"github.com/kargohq/kargo/internal/controller"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// Run starts every kargo controller against e, with its Git cache in a
// temporary directory; pass it to kubetest.Main. The returned function stops
// them.
func Run(e *kubetest.Env) (func(), error) {
	dir, err := os.MkdirTemp("", "kargo-controllers-")
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
}
