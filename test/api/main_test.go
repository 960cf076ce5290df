// Package api tests kargo's API server (internal/server) end to end: a real
// kube-apiserver with RBAC, token authentication and kargo's admission
// webhooks, users who present their own bearer tokens, and the server
// running under the kargo-api ClusterRole as on a cluster.
package api

import (
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var (
	env *kubetest.Env
	// api is the server under test, with only the kargo-api ClusterRole
	// bound to its identity, so that a right missing from that role fails
	// here.
	api *apiserver.Server
)

func TestMain(m *testing.M) {
	kubetest.Main(m, &env, controllers.Run, apiserver.Run(&api))
}
