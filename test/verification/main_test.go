// Package verification tests a pipeline whose health comes from Argo CD
// Applications and whose uat Stage verifies with HTTP checks, end to end:
// the kargo controllers and webhooks against a real API server, with a
// simulator playing Argo CD's part.
package verification

import (
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var env *kubetest.Env

func TestMain(m *testing.M) {
	// The Application CRD first, so that the controllers watch it.
	kubetest.Main(m, &env, kubetest.WithArgoCD, controllers.Run)
}
