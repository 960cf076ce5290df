package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProjectPhase is a Project's place in its life cycle.
//
// +kubebuilder:validation:Enum=Initializing;Ready;InitializationFailed
type ProjectPhase string

const (
	// ProjectPhaseInitializing means the project's namespace is being set up.
	ProjectPhaseInitializing ProjectPhase = "Initializing"
	// ProjectPhaseReady means the project's namespace exists and is labelled.
	ProjectPhaseReady ProjectPhase = "Ready"
	// ProjectPhaseInitializationFailed means the namespace could not be set
	// up; the Ready condition says why.
	ProjectPhaseInitializationFailed ProjectPhase = "InitializationFailed"
)

// Project groups related Stages, Warehouses and Freight. Each Project owns a
// namespace of the same name labelled kargo.akuity.io/project: "true".
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=kargo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Frozen By",type=string,JSONPath=`.status.freeze.by`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="a Project's name is also its namespace's name, so it may have at most 63 characters"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="a Project's name is also its namespace's name, so it must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"
type Project struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Status is the observed state of the Project.
	//
	// +optional
	Status ProjectStatus `json:"status,omitempty"`
}

// ProjectStatus is the observed state of a Project.
type ProjectStatus struct {
	// Phase is the Project's place in its life cycle.
	//
	// +optional
	Phase ProjectPhase `json:"phase,omitempty"`
	// Conditions are the Project's Ready, Reconciling and Stalled conditions.
	//
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation the controller last acted on.
	//
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Shard names the controller set (its --shard-name) that reconciles the
	// project's objects, in an installation with several sets, each owning
	// the Projects its --shard-selector selects. The first set whose
	// selector matches claims the project here; it gives the claim up when
	// its selector stops matching. Empty: the set without a shard name
	// reconciles the project, if one runs.
	//
	// +optional
	Shard string `json:"shard,omitempty"`
	// Freeze, while set, keeps every Promotion in the project that has not
	// started from starting, whatever its Stage ("stop the line"); they
	// wait, in order, until the project is unfrozen. Only kargo's API
	// server writes it, for a caller with the freeze (or, to lift it,
	// unfreeze) verb on every Stage of the project.
	//
	// +optional
	Freeze *Hold `json:"freeze,omitempty"`
}

// ProjectList is a list of Projects.
//
// +kubebuilder:object:root=true
type ProjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Project `json:"items"`
}
