// Package cli tests the kargo command line end to end, as users see it:
// command lines run through cli.Execute after `kargo login`, against the
// real API server on a real kube-apiserver with kargo's controllers and
// admission webhooks, in the kargo-demo Project of the seed pages with the
// seed's bindings for alice and bob. What the commands print is compared
// with transcripts in testdata/*.golden (go test ./test/cli -update
// rewrites them); what changes from run to run (ages, times, the random
// suffix of generated names, the server's address) is masked.
package cli

import (
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var (
	env *kubetest.Env
	api *apiserver.Server
)

func TestMain(m *testing.M) {
	kubetest.Main(m, &env, controllers.Run, apiserver.Run(&api))
}
