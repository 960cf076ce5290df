// Package conditions sets kstatus-style conditions: Ready is always present;
// Reconciling and Stalled are present only while true. The functions are pure
// and keep lastTransitionTime unless the status changes.
package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Ready marks the object ready, and neither reconciling nor stalled.
func Ready(conds *[]metav1.Condition, generation int64, reason, message string) {
	set(conds, kargoapi.ConditionReady, metav1.ConditionTrue, generation, reason, message)
	meta.RemoveStatusCondition(conds, kargoapi.ConditionReconciling)
	meta.RemoveStatusCondition(conds, kargoapi.ConditionStalled)
}

// Retrying marks the object not ready while the controller keeps trying: a
// transient failure.
func Retrying(conds *[]metav1.Condition, generation int64, reason, message string) {
	set(conds, kargoapi.ConditionReady, metav1.ConditionFalse, generation, reason, message)
	set(conds, kargoapi.ConditionReconciling, metav1.ConditionTrue, generation, reason, message)
	meta.RemoveStatusCondition(conds, kargoapi.ConditionStalled)
}

// Stalled marks the object not ready until its spec or surroundings change.
func Stalled(conds *[]metav1.Condition, generation int64, reason, message string) {
	set(conds, kargoapi.ConditionReady, metav1.ConditionFalse, generation, reason, message)
	set(conds, kargoapi.ConditionStalled, metav1.ConditionTrue, generation, reason, message)
	meta.RemoveStatusCondition(conds, kargoapi.ConditionReconciling)
}

func set(conds *[]metav1.Condition, t string, s metav1.ConditionStatus, generation int64, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: t, Status: s, ObservedGeneration: generation, Reason: reason, Message: message,
	})
}
