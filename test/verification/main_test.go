// Package verification tests a pipeline whose health comes from Argo CD
// Applications and whose uat Stage verifies with HTTP checks, end to end:
// the kargo controllers and webhooks against a real API server, and a real
// Argo CD (kubetest.WithArgoCD) syncing what kargo commits to each Stage's
// branch of a real Git server.
package verification

import (
	"context"
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/verification/analysis"
)

var env *kubetest.Env

func TestMain(m *testing.M) {
	// Argo CD's and Argo Rollouts' CRDs first, so that the controllers
	// find them when they start.
	rollouts := func(e *kubetest.Env) (func(), error) {
		return func() {}, analysis.InstallTestCRDs(context.Background(), e.Admin)
	}
	kubetest.Main(m, &env, kubetest.WithArgoCD, rollouts, controllers.Run)
}
