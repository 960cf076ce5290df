// Package promotion tests kargo end to end: the real controllers on a real
// kube-apiserver, against a real Git smart-HTTP server, OCI registry and
// Helm repository on loopback.
package promotion

import (
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env, controllers.Run) }

// eventually polls cond until it holds or timeout passes.
var eventually = kubetest.Eventually
