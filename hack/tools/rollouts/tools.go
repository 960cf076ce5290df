//go:build tools

// Package tools pins Argo Rollouts' controller for hack/rollouts-bins.sh,
// which builds it from this module.
package tools

import _ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
