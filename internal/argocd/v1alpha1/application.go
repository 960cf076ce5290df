package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupVersion is Argo CD's API group and version.
var GroupVersion = schema.GroupVersion{Group: "argoproj.io", Version: "v1alpha1"}

// AddToScheme registers Application and ApplicationList.
var AddToScheme = func(s *runtime.Scheme) error {
	b := &scheme.Builder{GroupVersion: GroupVersion}
	b.Register(&Application{}, &ApplicationList{})
	return b.AddToScheme(s)
}

// Application is the part of an Argo CD Application that kargo uses.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=app;apps
// +kubebuilder:pruning:PreserveUnknownFields
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ApplicationSpec `json:"spec"`
	// Operation asks Argo CD to sync; Argo CD removes it when it starts.
	// (Argo CD writes status with ordinary updates: the real CRD has no
	// status subresource, and neither has this one.)
	//
	// +optional
	Operation *Operation `json:"operation,omitempty"`
	// +optional
	Status ApplicationStatus `json:"status,omitempty"`
}

// ApplicationSpec holds the Application's sources.
//
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSpec struct {
	// Source is the single source of a single-source Application.
	//
	// +optional
	Source *ApplicationSource `json:"source,omitempty"`
	// Sources are the sources of a multi-source Application.
	//
	// +optional
	Sources []ApplicationSource `json:"sources,omitempty"`
}

// ApplicationSource is one source of manifests.
//
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSource struct {
	RepoURL string `json:"repoURL"`
	// +optional
	Path string `json:"path,omitempty"`
	// +optional
	TargetRevision string `json:"targetRevision,omitempty"`
	// +optional
	Chart string `json:"chart,omitempty"`
	// +optional
	Helm *ApplicationSourceHelm `json:"helm,omitempty"`
	// +optional
	Kustomize *ApplicationSourceKustomize `json:"kustomize,omitempty"`
}

// ApplicationSourceHelm holds Helm parameters.
//
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSourceHelm struct {
	// +optional
	Parameters []HelmParameter `json:"parameters,omitempty"`
}

// HelmParameter is one Helm parameter (--set).
type HelmParameter struct {
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Value string `json:"value,omitempty"`
	// +optional
	ForceString bool `json:"forceString,omitempty"`
}

// ApplicationSourceKustomize holds kustomize image overrides.
//
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSourceKustomize struct {
	// Images are overrides such as "nginx=nginx:1.25.0" or
	// "nginx=nginx@sha256:...".
	//
	// +optional
	Images []string `json:"images,omitempty"`
}

// Operation is a request to Argo CD.
//
// +kubebuilder:pruning:PreserveUnknownFields
type Operation struct {
	// +optional
	Sync *SyncOperation `json:"sync,omitempty"`
	// +optional
	InitiatedBy OperationInitiator `json:"initiatedBy,omitempty"`
	// +optional
	Info []Info `json:"info,omitempty"`
}

// SyncOperation asks for a sync to a revision.
//
// +kubebuilder:pruning:PreserveUnknownFields
type SyncOperation struct {
	// +optional
	Revision string `json:"revision,omitempty"`
	// +optional
	Revisions []string `json:"revisions,omitempty"`
}

// OperationInitiator says who asked for an operation.
type OperationInitiator struct {
	// +optional
	Username string `json:"username,omitempty"`
	// +optional
	Automated bool `json:"automated,omitempty"`
}

// Info is a name-value pair shown with an operation.
type Info struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ApplicationStatus is what Argo CD reports.
//
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationStatus struct {
	// +optional
	Sync SyncStatus `json:"sync,omitempty"`
	// +optional
	Health HealthStatus `json:"health,omitempty"`
	// +optional
	OperationState *OperationState `json:"operationState,omitempty"`
}

// SyncStatusCode is Synced, OutOfSync or Unknown.
type SyncStatusCode string

// Sync statuses Argo CD reports.
const (
	SyncStatusSynced    SyncStatusCode = "Synced"
	SyncStatusOutOfSync SyncStatusCode = "OutOfSync"
	SyncStatusUnknown   SyncStatusCode = "Unknown"
)

// SyncStatus compares the live state with the desired state at a revision.
//
// +kubebuilder:pruning:PreserveUnknownFields
type SyncStatus struct {
	// +optional
	Status SyncStatusCode `json:"status,omitempty"`
	// Revision is the revision synced, for single-source Applications.
	//
	// +optional
	Revision string `json:"revision,omitempty"`
	// Revisions are the revisions synced, one per source.
	//
	// +optional
	Revisions []string `json:"revisions,omitempty"`
}

// HealthStatusCode is Argo CD's health of an Application.
type HealthStatusCode string

// Health statuses Argo CD reports.
const (
	HealthStatusHealthy     HealthStatusCode = "Healthy"
	HealthStatusProgressing HealthStatusCode = "Progressing"
	HealthStatusDegraded    HealthStatusCode = "Degraded"
	HealthStatusSuspended   HealthStatusCode = "Suspended"
	HealthStatusMissing     HealthStatusCode = "Missing"
	HealthStatusUnknown     HealthStatusCode = "Unknown"
)

// HealthStatus is an Application's health.
//
// +kubebuilder:pruning:PreserveUnknownFields
type HealthStatus struct {
	// +optional
	Status HealthStatusCode `json:"status,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}

// OperationPhase is where an operation is.
type OperationPhase string

// Operation phases Argo CD reports.
const (
	OperationRunning     OperationPhase = "Running"
	OperationTerminating OperationPhase = "Terminating"
	OperationFailed      OperationPhase = "Failed"
	OperationError       OperationPhase = "Error"
	OperationSucceeded   OperationPhase = "Succeeded"
)

// OperationState is the state of the last operation.
//
// +kubebuilder:pruning:PreserveUnknownFields
type OperationState struct {
	// +optional
	Phase OperationPhase `json:"phase,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	StartedAt metav1.Time `json:"startedAt,omitempty"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// +optional
	Operation Operation `json:"operation,omitempty"`
}

// ApplicationList is a list of Applications.
//
// +kubebuilder:object:root=true
type ApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Application `json:"items"`
}
