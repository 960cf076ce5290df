// Package verification tests a pipeline whose health comes from Argo CD
// Applications and whose uat Stage verifies with HTTP checks, end to end:
// the kargo controllers and webhooks against a real API server, and a real
// Argo CD (kubetest.WithArgoCD) syncing what kargo commits to each Stage's
// branch of a real Git server. Stages that verify with AnalysisTemplates
// run them on a real Argo Rollouts (kubetest.WithArgoRollouts).
package verification

import (
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var env *kubetest.Env

func TestMain(m *testing.M) {
	// Argo CD and Argo Rollouts first, so that the controllers find their
	// kinds when they start.
	kubetest.Main(m, &env, kubetest.WithArgoCD, kubetest.WithArgoRollouts, controllers.Run)
}
