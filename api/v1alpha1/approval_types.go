package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ApproveVerb is the virtual RBAC verb on stages.kargo.akuity.io that lets
// a user approve Freight for a Stage whose approval policy asks for it.
// Kubernetes never checks it itself; kargo's API server does, with a
// SubjectAccessReview as the caller.
const ApproveVerb = "approve"

// ApprovalRequirement is what an approval policy asks before a Freight may
// be promoted into a Stage: Required approvals of the Freight for the
// Stage, each by a different person, none of them the person who promotes.
// With users and groups empty, every holder of the approve verb on the
// Stage counts; otherwise only those named (a ServiceAccount counts only
// when named under users).
type ApprovalRequirement struct {
	// Required is how many approvals are needed, each by a different user.
	//
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	Required int32 `json:"required,omitempty"`
	// Users whose approvals count, as the API server authenticates them
	// (alice, oidc:alice@example.com, system:serviceaccount:P:NAME).
	//
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Users []string `json:"users,omitempty"`
	// Groups whose members' approvals count, as the API server
	// authenticated the approver's groups when they approved.
	//
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.all(g, !g.startsWith('system:'))",message="groups may not name system: groups (system:authenticated would be everyone); name the people's groups"
	// +listType=set
	// +optional
	Groups []string `json:"groups,omitempty"`
	// ExpireAfter, when set, is how long an approval counts after it was
	// given; an older one must be given again.
	//
	// +optional
	ExpireAfter *metav1.Duration `json:"expireAfter,omitempty"`
}

// ApprovalPolicy makes a project's Stages, selected by name, glob or
// label, require approvals before Freight is promoted into them. Every
// policy that selects a Stage applies, and so does the Stage's own
// spec.approval: each must be met.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kargo
// +kubebuilder:printcolumn:name="Required",type=integer,JSONPath=`.spec.required`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ApprovalPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which Stages the policy selects and what it requires.
	Spec ApprovalPolicySpec `json:"spec"`
}

// ApprovalPolicySpec says which Stages an ApprovalPolicy selects and what
// it requires of them.
type ApprovalPolicySpec struct {
	// Stages selects the Stages of the project the policy applies to.
	Stages ApprovalStageSelector `json:"stages"`
	// ApprovalRequirement is what the selected Stages require.
	ApprovalRequirement `json:",inline"`
}

// ApprovalStageSelector selects Stages: by name (exact, or a glob with *, ?
// and [...]) or by label. A Stage is selected when any name matches it or
// the selector does.
//
// +kubebuilder:validation:XValidation:rule="size(self.?names.orValue([])) > 0 || has(self.selector)",message="select Stages with names (names or globs such as prod-*) or a label selector"
type ApprovalStageSelector struct {
	// Names are Stage names or globs (path.Match syntax: *, ?, [a-z]).
	//
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Names []string `json:"names,omitempty"`
	// Selector selects Stages by label. An empty selector selects every
	// Stage of the project.
	//
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// ApprovalPolicyList is a list of ApprovalPolicies.
//
// +kubebuilder:object:root=true
type ApprovalPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ApprovalPolicy `json:"items"`
}

// FreightApproval is one person's approval of a Freight for a Stage, as
// kargo's API server recorded it, with its own identity, after checking
// the approver's approve verb on the Stage: no user role may write Freight
// status, so it cannot be forged.
type FreightApproval struct {
	// User is the approver, as the API server authenticated them.
	User string `json:"user"`
	// Groups are the approver's groups when they approved, as the API
	// server authenticated them.
	//
	// +optional
	Groups []string `json:"groups,omitempty"`
	// At is when they approved.
	At metav1.Time `json:"at"`
	// Comment is why, in the approver's words.
	//
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Comment string `json:"comment,omitempty"`
}

// MaxApprovalsPerStage bounds a Freight's status.approvals of one Stage:
// an approver who approves again replaces their own approval, and past the
// bound the oldest approval goes.
const MaxApprovalsPerStage = 20

// PromotionApprovalStatus is what a Promotion waiting for approvals lacks.
type PromotionApprovalStatus struct {
	// WaitingSince is when the Promotion began waiting for approvals.
	//
	// +optional
	WaitingSince *metav1.Time `json:"waitingSince,omitempty"`
	// Missing says what is missing: how many more approvals, from whom.
	//
	// +optional
	Missing string `json:"missing,omitempty"`
}

// QueuedAutoPromotions says what happens to a Stage's auto-promotions that
// wait their turn when a newer one is queued behind them.
//
// +kubebuilder:validation:Enum=RunAll;ReplaceWithNewest
type QueuedAutoPromotions string

const (
	// QueuedAutoPromotionsRunAll runs every queued auto-promotion, in
	// order. It is the default.
	QueuedAutoPromotionsRunAll QueuedAutoPromotions = "RunAll"
	// QueuedAutoPromotionsReplaceWithNewest aborts an auto-promotion that
	// has not started when a newer auto-promotion of Freight of the same
	// origin is queued behind it: only the newest Freight is promoted.
	QueuedAutoPromotionsReplaceWithNewest QueuedAutoPromotions = "ReplaceWithNewest"
)
