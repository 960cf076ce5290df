package conditions

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func TestTransitions(t *testing.T) {
	var conds []metav1.Condition
	Retrying(&conds, 1, "Unreachable", "git down")
	require.Len(t, conds, 2)
	require.True(t, meta.IsStatusConditionTrue(conds, kargoapi.ConditionReconciling))
	require.True(t, meta.IsStatusConditionFalse(conds, kargoapi.ConditionReady))

	Stalled(&conds, 2, "InvalidSubscription", "bad regex")
	require.Nil(t, meta.FindStatusCondition(conds, kargoapi.ConditionReconciling))
	require.True(t, meta.IsStatusConditionTrue(conds, kargoapi.ConditionStalled))

	Ready(&conds, 3, "Discovered", "ok")
	require.Len(t, conds, 1)
	ready := meta.FindStatusCondition(conds, kargoapi.ConditionReady)
	require.Equal(t, metav1.ConditionTrue, ready.Status)
	require.EqualValues(t, 3, ready.ObservedGeneration)

	// The same state again keeps the transition time, so status stays equal
	// and no write is needed.
	before := ready.LastTransitionTime
	Ready(&conds, 3, "Discovered", "ok")
	require.Equal(t, before, meta.FindStatusCondition(conds, kargoapi.ConditionReady).LastTransitionTime)
}
