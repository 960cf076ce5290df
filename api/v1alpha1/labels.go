package v1alpha1

const (
	// ProjectLabelKey marks a namespace as a Kargo project when its value is
	// "true".
	ProjectLabelKey = "kargo.akuity.io/project"

	// AliasLabelKey holds a Freight's human-friendly alias. Labels are mutable
	// and indexed, so the alias can be changed and looked up, unlike the
	// Freight's name.
	AliasLabelKey = "kargo.akuity.io/alias"

	// DiscoveredAtAnnotationKey holds when a Freight was produced, with
	// nanoseconds: creationTimestamp has whole seconds only, too coarse to
	// order Freight discovered in the same second newest first.
	DiscoveredAtAnnotationKey = "kargo.akuity.io/discovered-at"

	// KeepFreightAnnotationKey, on a Project, overrides the installation's
	// number of Freight that garbage collection keeps per Warehouse (or
	// repository-subscribed Stage) in that project: a positive integer.
	// Freight in use is kept whatever the number.
	KeepFreightAnnotationKey = "kargo.akuity.io/keep-freight"

	// KeepPromotionsAnnotationKey, on a Project, overrides the installation's
	// number of finished Promotions that garbage collection keeps per Stage
	// in that project: a positive integer. Promotions that have not ended
	// are never deleted.
	KeepPromotionsAnnotationKey = "kargo.akuity.io/keep-promotions"

	// LabelTrueValue is the value of boolean labels such as ProjectLabelKey.
	LabelTrueValue = "true"
)

// Keys of the ServiceAccounts that back API tokens (kargo create token) and
// of the RoleBindings kargo makes for tokens and grants.
const (
	// APITokenLabelKey marks a ServiceAccount as an API token, and the
	// RoleBinding that grants the token its role; its value is
	// LabelTrueValue.
	APITokenLabelKey = "kargo.akuity.io/api-token"
	// TokenRoleAnnotationKey holds the role of an API token,
	// "ClusterRole/kargo-promoter" or "Role/NAME".
	TokenRoleAnnotationKey = "kargo.akuity.io/token-role"
	// TokenCreatedByAnnotationKey holds the user who created an API token.
	TokenCreatedByAnnotationKey = "kargo.akuity.io/token-created-by"
	// TokenExpiresAnnotationKey holds when an API token expires (RFC 3339).
	TokenExpiresAnnotationKey = "kargo.akuity.io/token-expires"
	// GrantLabelKey marks a RoleBinding that kargo grant made (its value
	// is LabelTrueValue); kargo revoke deletes it when its last subject
	// goes.
	GrantLabelKey = "kargo.akuity.io/grant"
)
