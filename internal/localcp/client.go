package localcp

import (
	"fmt"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoscheme "github.com/kargohq/kargo/internal/scheme"
)

// installClient connects to the API server to install a real part (Argo
// CD, Argo Rollouts) with, knowing CustomResourceDefinitions: client-go's
// default scheme knows them only in test binaries.
func installClient(cfg *rest.Config, what string) (client.Client, error) {
	scheme, err := kargoscheme.New()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to the API server for %s: %w", what, err)
	}
	return c, nil
}
