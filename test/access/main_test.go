// Package access tests kargo's access model end to end: the real RBAC
// authorizer, the admission webhooks, and users who authenticate with their
// own certificates, path by path.
package access

import (
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var env *kubetest.Env

func TestMain(m *testing.M) {
	kubetest.Main(m, &env, controllers.Run)
}
