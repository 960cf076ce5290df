// Package notification tests NotificationSubscriptions end to end: kargo's
// controllers and webhooks against a real API server, delivering a
// project's events to real HTTP receivers on loopback, through the
// controllers' outbound policy.
package notification

import (
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var env *kubetest.Env

func TestMain(m *testing.M) {
	kubetest.Main(m, &env, controllers.Run)
}
