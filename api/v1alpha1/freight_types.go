package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Freight is a set of references to versioned artifacts (Git commits,
// container images and Helm charts) that moves from Stage to Stage as one
// unit. Its name is the SHA-1 fingerprint of a canonical representation of
// those artifacts, so two Freight with the same artifacts have the same name.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kargo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Alias",type=string,JSONPath=`.alias`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Origin",type=string,JSONPath=`.origin.name`,priority=1
// +kubebuilder:printcolumn:name="Created By",type=string,JSONPath=`.createdBy.username`,priority=1
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[0-9a-f]{40}$')",message="a Freight's name must be the 40-character lowercase hex SHA-1 fingerprint of its artifacts"
// +kubebuilder:validation:XValidation:rule="size(self.?commits.orValue([])) + size(self.?images.orValue([])) + size(self.?charts.orValue([])) > 0",message="Freight must reference at least one commit, image or chart"
// +kubebuilder:validation:XValidation:rule="has(oldSelf.createdBy) == has(self.createdBy) && (!has(self.createdBy) || self.createdBy == oldSelf.createdBy)",message="createdBy is immutable: kargo records who created the Freight when it is created"
type Freight struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Alias is a human-friendly name for the Freight, kept in sync with the
	// kargo.akuity.io/alias label: a non-empty alias sets the label; an empty
	// alias takes the label's value.
	//
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')`,message="alias must be lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, such as frozen-tauntaun"
	// +optional
	Alias string `json:"alias,omitempty"`
	// Origin is the Warehouse (or repository-subscribed Stage) that produced
	// the Freight.
	//
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="origin is immutable: Freight never changes once produced"
	// +optional
	Origin *FreightOrigin `json:"origin,omitempty"`
	// CreatedBy records who created the Freight. Kargo's admission webhook
	// sets it from the authenticated user of the create request, whatever
	// the request said, and it never changes afterwards. Auto-promotion
	// only ever picks Freight that kargo's controller produced; Freight
	// created by anyone else can only be promoted by someone who may
	// promote into the Stage, and chooses it. Freight created before kargo
	// recorded creators has none, and is not auto-promoted either.
	//
	// +optional
	CreatedBy *FreightCreator `json:"createdBy,omitempty"`
	// Commits are the Git commits the Freight references.
	//
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="commits are immutable: Freight never changes once produced"
	// +optional
	Commits []GitCommit `json:"commits,omitempty"`
	// Images are the container images the Freight references.
	//
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="images are immutable: Freight never changes once produced"
	// +optional
	Images []Image `json:"images,omitempty"`
	// Charts are the Helm charts the Freight references.
	//
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="charts are immutable: Freight never changes once produced"
	// +optional
	Charts []Chart `json:"charts,omitempty"`

	// Status records where the Freight has been verified and where it has been
	// manually approved.
	//
	// +optional
	Status FreightStatus `json:"status,omitempty"`
}

// FreightOriginKind is the kind of object that produces Freight.
//
// +kubebuilder:validation:Enum=Warehouse;Stage
type FreightOriginKind string

const (
	// FreightOriginWarehouse means a Warehouse produced the Freight.
	FreightOriginWarehouse FreightOriginKind = "Warehouse"
	// FreightOriginStage means a Stage that subscribes to repositories
	// directly produced the Freight.
	FreightOriginStage FreightOriginKind = "Stage"
)

// FreightOrigin names the object that produced a Freight.
type FreightOrigin struct {
	// Kind is Warehouse or Stage.
	Kind FreightOriginKind `json:"kind"`
	// Name is the name of the Warehouse or Stage, in the Freight's namespace.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// FreightCreator is who created a Freight, as the API server authenticated
// the create request.
type FreightCreator struct {
	// Username is the user that created the Freight, such as alice or
	// system:serviceaccount:kargo:kargo-controller.
	Username string `json:"username"`
	// Controller is true when kargo's controller created the Freight from
	// what its Warehouse or Stage subscriptions discovered: only such
	// Freight is auto-promoted.
	//
	// +optional
	Controller bool `json:"controller,omitempty"`
}

// GitCommit is one commit of a Git repository.
type GitCommit struct {
	// RepoURL is the repository the commit belongs to.
	RepoURL string `json:"repoURL"`
	// ID is the commit's full hash.
	//
	// +optional
	ID string `json:"id,omitempty"`
	// Branch is the branch the commit was found on, if it was selected from a
	// branch.
	//
	// +optional
	Branch string `json:"branch,omitempty"`
	// Tag is the tag that selected the commit, if it was selected by tag.
	//
	// +optional
	Tag string `json:"tag,omitempty"`
	// Message is the first line of the commit message.
	//
	// +optional
	Message string `json:"message,omitempty"`
	// Author is the commit's author.
	//
	// +optional
	Author string `json:"author,omitempty"`
}

// Image is one container image.
type Image struct {
	// RepoURL is the image repository.
	RepoURL string `json:"repoURL"`
	// Tag is the image's tag.
	//
	// +optional
	Tag string `json:"tag,omitempty"`
	// Digest is the image's content digest, such as sha256:....
	//
	// +optional
	Digest string `json:"digest,omitempty"`
}

// Chart is one version of a Helm chart.
type Chart struct {
	// RepoURL is the chart repository, or the oci:// chart reference.
	RepoURL string `json:"repoURL"`
	// Name is the chart's name in an HTTP(S) repository.
	//
	// +optional
	Name string `json:"name,omitempty"`
	// Version is the chart's version.
	Version string `json:"version"`
}

// FreightStatus records where a Freight has been verified and where it has
// been manually approved. Both maps are keyed by Stage name.
//
// Writers: verifiedIn belongs to verification (internal/verification, which
// adds and withdraws entries) and to the Promotion controller (a Stage
// without verification checks verifies on promotion); approvedFor and
// approvals belong to the API server's approve action, which writes them
// with its own identity after checking the approver's promote verb
// (approvedFor) or approve verb (approvals) on the Stage; metadata belongs
// to Promotions' set-metadata steps (the keys each sets).
type FreightStatus struct {
	// VerifiedIn lists the Stages in which the Freight has been verified: the
	// Stage became healthy with it and every verification passed.
	//
	// +optional
	VerifiedIn map[string]VerifiedStage `json:"verifiedIn,omitempty"`
	// ApprovedFor lists the Stages the Freight has been manually approved
	// for, which lets it skip the Stages in between.
	//
	// +optional
	ApprovedFor map[string]ApprovedStage `json:"approvedFor,omitempty"`
	// Metadata holds the key/value pairs promotions' set-metadata steps
	// wrote about the Freight (at most 64 KiB). kargo's own decisions
	// never read it; step expressions may, with freightMetadata(name, key).
	//
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Metadata *StepConfig `json:"metadata,omitempty"`
	// Approvals are the approvals given for each Stage whose approval
	// policy asks for them, by Stage name; written only by kargo's API
	// server, after checking each approver's approve verb.
	//
	// +optional
	Approvals map[string][]FreightApproval `json:"approvals,omitempty"`
}

// VerifiedStage records that a Freight was verified in a Stage.
type VerifiedStage struct {
	// VerifiedAt is when the Freight was verified in the Stage; soak times
	// downstream count from it.
	//
	// +optional
	VerifiedAt *metav1.Time `json:"verifiedAt,omitempty"`
}

// ApprovedStage records that a Freight was manually approved for a Stage.
// Kargo's API server writes it, with its own identity, after checking the
// approver's right: no user role may write Freight status, so who approved
// cannot be forged.
type ApprovedStage struct {
	// ApprovedBy is the user who approved, as the API server authenticated
	// them.
	//
	// +optional
	ApprovedBy string `json:"approvedBy,omitempty"`
	// ApprovedAt is when.
	//
	// +optional
	ApprovedAt *metav1.Time `json:"approvedAt,omitempty"`
}

// FreightList is a list of Freight.
//
// +kubebuilder:object:root=true
type FreightList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Freight `json:"items"`
}
