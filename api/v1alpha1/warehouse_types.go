package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Warehouse watches repositories and produces Freight: each new combination
// of the newest selected artifacts becomes one Freight resource.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kargo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Last Freight",type=string,JSONPath=`.status.lastFreight.alias`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Warehouse struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what the Warehouse watches and how often.
	Spec WarehouseSpec `json:"spec"`
	// Status is the observed state of the Warehouse.
	//
	// +optional
	Status WarehouseStatus `json:"status,omitempty"`
}

// WarehouseSpec says what a Warehouse watches and how often.
type WarehouseSpec struct {
	// Subscriptions are the repositories the Warehouse watches, in either
	// of two shapes: an object with git, images and charts lists, or, as
	// Kargo v0.4–v0.6 wrote it, a list of entries that each hold one of
	// git, image or chart. Both are checked against the same rules (the
	// schema of a Stage's subscriptions.repos) by kargo's Warehouse
	// admission webhook and mean the same; kargo reads them as the object.
	//
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Subscriptions RepoSubscriptions `json:"subscriptions"`
	// Interval is how often the repositories are polled. A jitter of up to
	// 10% is added so that Warehouses do not poll in lockstep.
	//
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule=`self.matches('^([0-9]+([.][0-9]+)?(ms|s|m|h))+$') && duration(self) >= duration('10s')`,message="interval must be a duration of at least 10s, such as 30s, 5m or 1h"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
	// FreightCreationPolicy says whether the Warehouse creates Freight from
	// what it discovers (Automatic, the default) or only discovers, shows
	// what it found in status.discoveredArtifacts and leaves creating
	// Freight to people (Manual: `kargo create freight --warehouse NAME
	// ...`), who may use only artifacts it discovered.
	//
	// +kubebuilder:default=Automatic
	// +optional
	FreightCreationPolicy FreightCreationPolicy `json:"freightCreationPolicy,omitempty"`
	// FreightCreationCriteria, when set, filter what an Automatic Warehouse
	// turns into Freight: a new combination of artifacts becomes Freight
	// only when the expression holds for it.
	//
	// +optional
	FreightCreationCriteria *FreightCreationCriteria `json:"freightCreationCriteria,omitempty"`
	// DiscoveryLimit caps how many candidate artifacts are considered per
	// subscription.
	//
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	DiscoveryLimit int32 `json:"discoveryLimit,omitempty"`
}

// FreightCreationPolicy says who creates a Warehouse's Freight.
//
// +kubebuilder:validation:Enum=Automatic;Manual
type FreightCreationPolicy string

const (
	// FreightCreationAutomatic makes the Warehouse create Freight for each
	// new combination of the newest artifacts it discovers.
	FreightCreationAutomatic FreightCreationPolicy = "Automatic"
	// FreightCreationManual makes the Warehouse only discover: people
	// create its Freight from the artifacts it discovered.
	FreightCreationManual FreightCreationPolicy = "Manual"
)

// FreightCreationCriteria filter the Freight a Warehouse creates.
type FreightCreationCriteria struct {
	// Expression is a CEL expression over the candidate Freight that must
	// be true for it to be created: commits (each with repoURL, id, tag,
	// branch, message, author), images (repoURL, tag, digest) and charts
	// (repoURL, name, version), in subscription order; for example
	// images.all(i, !i.tag.contains('-rc')) or
	// commits.exists(c, c.tag.startsWith('v1.')). The Warehouse webhook
	// refuses one that does not compile to a boolean.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Expression string `json:"expression"`
}

// MaxDiscoveredPerSubscription bounds how many artifacts of each
// subscription status.discoveredArtifacts lists.
const MaxDiscoveredPerSubscription = 10

// DiscoveredArtifacts are the artifacts a Warehouse's last successful
// discovery found, newest first within each subscription, at most
// MaxDiscoveredPerSubscription per subscription.
type DiscoveredArtifacts struct {
	// DiscoveredAt is when they were discovered.
	//
	// +optional
	DiscoveredAt *metav1.Time `json:"discoveredAt,omitempty"`
	// Commits are the commits found, subscription after subscription.
	//
	// +optional
	Commits []GitCommit `json:"commits,omitempty"`
	// Images are the images found, subscription after subscription.
	//
	// +optional
	Images []Image `json:"images,omitempty"`
	// Charts are the chart versions found, subscription after
	// subscription.
	//
	// +optional
	Charts []Chart `json:"charts,omitempty"`
}

// WarehouseStatus is the observed state of a Warehouse.
type WarehouseStatus struct {
	// Conditions are the Warehouse's Ready, Reconciling and Stalled
	// conditions.
	//
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation the controller last acted on.
	//
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastFreight is the Freight the Warehouse most recently produced or
	// found already present.
	//
	// +optional
	LastFreight *FreightReference `json:"lastFreight,omitempty"`
	// DiscoveredArtifacts are what the last successful discovery found,
	// bounded; people choose among them when the Warehouse's
	// freightCreationPolicy is Manual.
	//
	// +optional
	DiscoveredArtifacts *DiscoveredArtifacts `json:"discoveredArtifacts,omitempty"`
	// LastHandledRefresh is the value of the refresh annotation the
	// controller last acted on.
	//
	// +optional
	LastHandledRefresh string `json:"lastHandledRefresh,omitempty"`
}

// FreightReference names a Freight and its alias.
type FreightReference struct {
	// Name is the Freight's name, its fingerprint.
	Name string `json:"name"`
	// Alias is the Freight's human-friendly alias.
	//
	// +optional
	Alias string `json:"alias,omitempty"`
}

// WarehouseList is a list of Warehouses.
//
// +kubebuilder:object:root=true
type WarehouseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Warehouse `json:"items"`
}
