// Package verification decides when Freight counts as verified in a Stage
// and runs the Stage's checks: the health of its Argo CD Applications, the
// HTTP checks kargo makes itself (httpcheck), and Argo Rollouts analysis
// (analysis).
package verification

import (
	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/argocd"
)

// Needed reports whether something other than the promotion itself decides
// whether Freight is verified in st: the health of Argo CD Applications, or
// checks in spec.verification. Without either, a successful promotion is
// all the verification there is.
func Needed(st *kargoapi.Stage) bool {
	return len(argocd.Updates(st)) > 0 || st.Spec.Verification != nil
}
