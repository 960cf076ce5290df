// Package promotion tests kargo end to end: the real controllers on a real
// kube-apiserver, against a real Git smart-HTTP server, OCI registry and
// Helm repository on loopback.
package promotion

import (
	"testing"
	"time"

	"github.com/kargohq/kargo/internal/manager"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var env *kubetest.Env

// The Running phase of a Promotion that outlasts a second is written on its
// own (promotion.DefaultRunningAfter); here only after ten minutes, so that
// the writes TestPromotionWritesStayFew counts do not depend on how fast
// this machine runs a Promotion. That write is tested in
// internal/controller/promotion (TestSlowPromotionShowsRunning) and through
// the CLI (internal/cli's TestPromoteWaitTimesOut).
func TestMain(m *testing.M) {
	kubetest.Main(m, &env, controllers.RunWith(func(o *manager.Options) { o.PromotionRunningAfter = 10 * time.Minute }))
}

// eventually polls cond until it holds or timeout passes.
var eventually = kubetest.Eventually
