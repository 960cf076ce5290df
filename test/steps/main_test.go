// Package steps tests Stages promoted by promotion steps end to end: the
// kargo controllers and webhooks against a real kube-apiserver, the real
// Git smart-HTTP server of internal/testutil/gitserver, a real Argo CD
// (kubetest.WithArgoCD) syncing the branches the steps render, and a real
// Gitea (internal/testutil/gitea) for promotions through pull requests.
//
//	pipeline_test.go  two Stages rendering stages/<name> branches with kustomize, synced by Argo CD
//	kargo_test.go     a Stage and a PromotionTask written in Kargo's syntax, applied with kubectl
//	pr_test.go        promotion through a pull request that a person merges, or closes
package steps

import (
	"testing"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

var env *kubetest.Env

func TestMain(m *testing.M) {
	// Argo CD first, so that the controllers find the Application kind
	// when they start.
	kubetest.Main(m, &env, kubetest.WithArgoCD, controllers.Run)
}
