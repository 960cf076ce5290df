package v1alpha1

const (
	// ProjectLabelKey marks a namespace as a Kargo project when its value is
	// "true".
	ProjectLabelKey = "kargo.akuity.io/project"

	// AliasLabelKey holds a Freight's human-friendly alias. Labels are mutable
	// and indexed, so the alias can be changed and looked up, unlike the
	// Freight's name.
	AliasLabelKey = "kargo.akuity.io/alias"

	// LabelTrueValue is the value of boolean labels such as ProjectLabelKey.
	LabelTrueValue = "true"
)
