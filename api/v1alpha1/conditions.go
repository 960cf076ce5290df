package v1alpha1

// Condition types shared by the kinds in this package. They follow kstatus:
// Ready is always present; Reconciling and Stalled are present only while
// true.
const (
	// ConditionReady says whether the object is in its desired state.
	ConditionReady = "Ready"
	// ConditionReconciling is true while the controller is acting on the
	// object.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is true when the controller cannot make progress
	// without a change to the object or its surroundings.
	ConditionStalled = "Stalled"
	// ConditionHealthy reports the aggregated health of a Stage.
	ConditionHealthy = "Healthy"
)
