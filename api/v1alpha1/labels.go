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

	// LabelTrueValue is the value of boolean labels such as ProjectLabelKey.
	LabelTrueValue = "true"
)
