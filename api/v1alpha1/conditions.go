package v1alpha1

// Condition types of the kinds in this package. They follow kstatus: Ready
// is always present; Reconciling and Stalled are present only while true.
const (
	// ConditionReady says whether the object is in its desired state.
	ConditionReady = "Ready"
	// ConditionReconciling is true while the controller is acting on the
	// object.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is true when the controller cannot make progress
	// without a change to the object or its surroundings.
	ConditionStalled = "Stalled"
	// ConditionHealthy reports the aggregated health of a Stage; its reason
	// is the HealthStatus.
	ConditionHealthy = "Healthy"
	// ConditionVerified reports the verification of a Stage's current
	// Freight; its reason is the VerificationPhase.
	ConditionVerified = "Verified"
)

// Reasons of a Warehouse's conditions, and of a Stage's when the Stage
// subscribes to repositories itself. A discovery that fails carries the
// reason of its failure instead (internal/sourceerr names them, such as
// NotFound, Unauthorized or RateLimited).
const (
	// ReasonFreightAvailable means the newest artifacts are bundled in
	// Freight.
	ReasonFreightAvailable = "FreightAvailable"
	// ReasonArtifactsDiscovered means a Manual Warehouse discovered
	// artifacts and left creating Freight to people.
	ReasonArtifactsDiscovered = "ArtifactsDiscovered"
	// ReasonCriteriaNotMet means the newest artifacts did not meet the
	// Warehouse's freightCreationCriteria.
	ReasonCriteriaNotMet = "CriteriaNotMet"
	// ReasonInvalidCriteria means freightCreationCriteria cannot be
	// evaluated.
	ReasonInvalidCriteria = "InvalidCriteria"
	// ReasonFreightCreationFailed means the artifacts were discovered but
	// their Freight could not be written; it is tried again.
	ReasonFreightCreationFailed = "FreightCreationFailed"
)

// Reasons of a Stage's Ready condition (besides the Warehouse reasons above,
// for a Stage that subscribes to repositories itself).
const (
	// ReasonReconciled means the Stage's available Freight is up to date.
	ReasonReconciled = "Reconciled"
)

// Reasons of a Project's Ready condition.
const (
	// ReasonNamespaceReady means the Project's namespace exists and is
	// labelled as a project.
	ReasonNamespaceReady = "NamespaceReady"
	// ReasonNamespaceNotAProject means a namespace of the Project's name
	// exists without the project label; the controller leaves it alone.
	ReasonNamespaceNotAProject = "NamespaceNotAProject"
	// ReasonNamespaceTerminating means the Project's namespace is being
	// deleted; the controller creates it again once it is gone.
	ReasonNamespaceTerminating = "NamespaceTerminating"
)

// Reasons of a NotificationSubscription's Ready condition.
const (
	// ReasonDelivered means every event due was delivered, or none was due.
	ReasonDelivered = "Delivered"
	// ReasonDeliveryFailed means the receiver did not take the event at
	// the head of the queue; it is retried with back-off.
	ReasonDeliveryFailed = "DeliveryFailed"
	// ReasonSecretUnavailable means a Secret the subscription names cannot
	// be read or lacks its key; delivery is retried with back-off.
	ReasonSecretUnavailable = "SecretUnavailable"
	// ReasonOutboundRefused means the controller's outbound address policy
	// refuses the receiver's address; delivery is retried with back-off,
	// in case the policy changes.
	ReasonOutboundRefused = "OutboundRefused"
)
