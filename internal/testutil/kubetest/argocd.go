package kubetest

import (
	"context"
	"fmt"
	"time"

	"github.com/kargohq/kargo/config/crd"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/install"
)

// InstallArgoCDCRD installs the CRD of Argo CD's Application, as kargo's
// slim types describe it, and teaches the Env's clients the Application
// types. It is not part of Start because only tests that play Argo CD need
// it; call it before any test runs (from a function given to Main), since
// it changes the Scheme the clients share.
func (e *Env) InstallArgoCDCRD(ctx context.Context) error {
	crds, err := crd.ArgoCDDefinitions()
	if err != nil {
		return err
	}
	if err := install.CRDs(ctx, e.Admin, crds, time.Minute); err != nil {
		return err
	}
	if err := argocdv1.AddToScheme(e.Scheme); err != nil {
		return fmt.Errorf("register Argo CD types: %w", err)
	}
	return nil
}

// WithArgoCD is a function for Main that installs the Application CRD with
// InstallArgoCDCRD. There is nothing to undo: the API server goes away with
// the tests.
func WithArgoCD(e *Env) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return func() {}, e.InstallArgoCDCRD(ctx)
}
