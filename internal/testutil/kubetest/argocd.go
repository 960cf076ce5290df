package kubetest

import (
	"context"
	"fmt"
	"os"
	"time"

	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/localcp"
)

// ArgoCDBinDir returns the folder of a real Argo CD's binaries: the one
// $ARGOCD_BINS names, or else the one hack/argocd-bins.sh builds (a cache
// hit takes milliseconds; a cold build about ten minutes).
func ArgoCDBinDir() (string, error) {
	return HackBuilt("ARGOCD_BINS", "argocd-bins.sh", []string{"argocd"})
}

// WithArgoCDCRDs is a function for Main that installs Argo CD's own
// Application and AppProject CRDs, from the binaries hack/argocd-bins.sh
// builds, and teaches the Env's clients kargo's slim Application types, for
// tests of what the API server keeps of kargo's writes. It must run before
// any test (it changes the Scheme the clients share).
func WithArgoCDCRDs(e *Env) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bins, err := ArgoCDBinDir()
	if err != nil {
		return nil, err
	}
	crds, err := localcp.ArgoCDCRDs(bins)
	if err != nil {
		return nil, err
	}
	if err := install.CRDs(ctx, e.Admin, crds, time.Minute); err != nil {
		return nil, err
	}
	if err := argocdv1.AddToScheme(e.Scheme); err != nil {
		return nil, fmt.Errorf("register Argo CD types: %w", err)
	}
	return func() {}, nil
}

// ArgoCDHealthSetting is an argocd-cm health check, in Argo CD's own Lua,
// that lets a test's Git repository say how healthy each ConfigMap is: a
// ConfigMap with data.health (Healthy, Progressing, Degraded, Suspended)
// and data.message reports them. Everything else about health stays Argo
// CD's own; the API server runs no kubelet, so workloads never become
// ready, and ConfigMaps stand in for them.
var ArgoCDHealthSetting = map[string]string{
	"resource.customizations.health.ConfigMap": `hs = {status = "Healthy", message = ""}
if obj.data ~= nil and obj.data.health ~= nil then
  hs.status = obj.data.health
  if obj.data.message ~= nil then hs.message = obj.data.message end
end
return hs
`,
}

// ArgoCDApplicationNamespaces are the namespaces, besides argocd, from
// which the Argo CD that WithArgoCD starts takes Applications.
const ArgoCDApplicationNamespaces = "apps-*"

// WithArgoCD is a function for Main that starts a real Argo CD
// (application-controller, repo-server and redis; see
// localcp.StartArgoCD) against the Env, with its CRDs, the
// ArgoCDHealthSetting health check and Applications taken from argocd and
// from namespaces matching ArgoCDApplicationNamespaces. It sets e.ArgoCD
// and prints the version it runs. Run it before the controllers start, so
// that they find the Application type.
func WithArgoCD(e *Env) (func(), error) {
	undoCRDs, err := WithArgoCDCRDs(e)
	if err != nil {
		return nil, err
	}
	bins, err := ArgoCDBinDir()
	if err != nil {
		return nil, err
	}
	// A short path: Argo CD makes a Unix socket in it.
	state, err := os.MkdirTemp("", "argocd-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	a, err := localcp.StartArgoCD(ctx, localcp.ArgoCDOptions{
		BinDir:                bins,
		Config:                e.Config,
		StateDir:              state,
		ApplicationNamespaces: []string{ArgoCDApplicationNamespaces},
		Settings:              ArgoCDHealthSetting,
		// Tests wait on Argo CD: compare with Git often.
		Resync: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("start a real Argo CD from %s (logs in %s): %w", bins, state, err)
	}
	fmt.Fprintf(os.Stderr, "kubetest: real Argo CD %s (application-controller, repo-server) from %s ready in %s; logs in %s\n",
		a.Version, bins, time.Since(start).Round(100*time.Millisecond), state)
	e.ArgoCD = a
	return func() {
		if err := a.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: stop Argo CD: %v\n", err)
		}
		if os.Getenv("KARGO_KEEP_ARGOCD_LOGS") == "" {
			_ = os.RemoveAll(state)
		}
		undoCRDs()
	}, nil
}
