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

	// RefreshAnnotationKey, on a Warehouse or a Stage with repository
	// subscriptions, asks for discovery now whenever its value changes. The
	// value is a token: an RFC 3339 time (what the webhook receiver writes,
	// when the push arrived) or Unix seconds; `kargo refresh` writes one.
	RefreshAnnotationKey = "kargo.akuity.io/refresh"

	// AutoPromotedByLabelKey, on a Promotion, names the PromotionPolicy
	// whose auto-promotion created it.
	AutoPromotedByLabelKey = "kargo.akuity.io/promotion-policy"

	// PromotionCreatedByAnnotationKey, on a Promotion, names the user who
	// created it. kargo's admission webhook writes it from the request, so
	// it cannot be forged; promotion steps read it as
	// ctx.meta.promotion.actor.
	PromotionCreatedByAnnotationKey = "kargo.akuity.io/create-actor"

	// AbortAnnotationKey, on a Promotion, asks the controller to abort it
	// at its next safe point (before it starts, or between two steps). Its
	// value is the user who asked: kargo's mutating webhook writes it from
	// the request, whatever the request said, and the validating webhook
	// lets only someone who may promote into the Stage set it. Once set it
	// stays.
	AbortAnnotationKey = "kargo.akuity.io/abort"

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

// Keys of the AnalysisRuns that verification creates: they say which Stage,
// Freight and verification a run belongs to. A value that is not a valid
// label value, such as a Stage name longer than 63 characters, is shortened
// and ends with a hash of the whole value.
const (
	// StageLabelKey names the Stage an AnalysisRun verifies.
	StageLabelKey = "kargo.akuity.io/stage"
	// FreightLabelKey names the Freight an AnalysisRun verifies.
	FreightLabelKey = "kargo.akuity.io/freight"
	// VerificationIDLabelKey names the verification an AnalysisRun belongs to.
	VerificationIDLabelKey = "kargo.akuity.io/verification-id"
)

// Keys of the Secrets that hold repository credentials.
const (
	// CredentialTypeLabelKey marks a Secret as credentials of a kind of
	// repository: git, image or helm.
	CredentialTypeLabelKey = "kargo.akuity.io/cred-type"
	// CredentialURLPatternLabelKey marks credential Secrets whose
	// repoURLPattern is a regular expression rather than one URL.
	CredentialURLPatternLabelKey = "kargo.akuity.io/cred-url-pattern"
)
