// Package scale measures kargo at the size of a large installation
// (`make bench-scale`, hack/bench-scale.sh): P projects, W Warehouses, S
// Stages, F Freight and N Promotions created through a real kube-apiserver,
// reconciled by the built binary's `kargo controller` in a process of its
// own (GOMAXPROCS=2), whose memory, CPU and requests are measured from the
// outside: /proc, its /metrics and the API server's /metrics.
package scale

import (
	"testing"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

var env *kubetest.Env

// TestMain installs Argo CD's Application CRD (no Argo CD runs: the
// benchmark writes what it would report) so that Stages have health to
// follow.
// kargo's API server runs in this process (kargoAPIList); what it logs is
// not measured.
func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	kubetest.Main(m, &env, kubetest.WithArgoCDCRDs)
}
