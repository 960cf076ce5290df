// Package schema tests the kargo.akuity.io CRDs against a real kube-apiserver:
// the seed pages' manifests apply unchanged, invalid objects are refused
// with messages that say what to fix, and kubectl prints the documented
// columns.
package schema

import (
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }
