package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Actions an AuditRecord records: what kargo's API server did for a caller.
// The list grows with the API; Action is a string, not an enumeration, so
// that records written by a newer server stay readable by an older one.
const (
	AuditActionPromote           = "promote"
	AuditActionApprove           = "approve"
	AuditActionAlias             = "alias"
	AuditActionRefresh           = "refresh"
	AuditActionVerify            = "verify"
	AuditActionAbortVerification = "abort-verification"
	AuditActionAbortPromotion    = "abort-promotion"
	AuditActionCreate            = "create"
	AuditActionApply             = "apply"
	AuditActionDelete            = "delete"
)

// AuditResult is how an audited action ended.
//
// +kubebuilder:validation:Enum=Succeeded;Failed;Refused
type AuditResult string

const (
	// AuditResultSucceeded means the action was done.
	AuditResultSucceeded AuditResult = "Succeeded"
	// AuditResultFailed means the caller was allowed to ask but the action
	// was not done: the object was not found, an admission webhook refused
	// it, the request was invalid.
	AuditResultFailed AuditResult = "Failed"
	// AuditResultRefused means the caller lacked the right. Only refusals
	// of callers who hold a role in the project are recorded, so that
	// someone with no right there cannot flood the project's trail and
	// push the records that matter out of its retention.
	AuditResultRefused AuditResult = "Refused"
)

// AuditRecord is one action taken through kargo's API server in a project:
// who asked, when, for what, and how it ended. The API server writes it in
// the project's namespace once the action has ended, with its own identity;
// no user role may create, change or delete records (viewers read them),
// and the controller deletes the oldest beyond the installation's
// retention. A record never changes once written.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kargo,shortName=audit
// +kubebuilder:printcolumn:name="Action",type=string,JSONPath=`.action`
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.actor.username`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.target.kind`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.target.name`
// +kubebuilder:printcolumn:name="Result",type=string,JSONPath=`.outcome.result`
// +kubebuilder:printcolumn:name="Time",type=string,JSONPath=`.time`
// +kubebuilder:validation:XValidation:rule="self.time == oldSelf.time && self.actor == oldSelf.actor && self.action == oldSelf.action && self.target == oldSelf.target && self.outcome == oldSelf.outcome && has(self.details) == has(oldSelf.details) && (!has(self.details) || self.details == oldSelf.details)",message="an AuditRecord is append-only: it never changes once written"
type AuditRecord struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Time is when the action ended.
	Time metav1.MicroTime `json:"time"`
	// Actor is who asked, as kargo's API server authenticated them.
	Actor AuditActor `json:"actor"`
	// Action is what was asked: promote, approve, alias, refresh, verify,
	// abort-verification, create, apply or delete (AuditAction*).
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Action string `json:"action"`
	// Target is the object acted on.
	Target AuditTarget `json:"target"`
	// Details are what else the request said that the target does not:
	// the new alias, the Freight alias a promotion named.
	//
	// +kubebuilder:validation:MaxProperties=16
	// +optional
	Details map[string]string `json:"details,omitempty"`
	// Outcome is how the action ended.
	Outcome AuditOutcome `json:"outcome"`
}

// AuditActor is the user an action was taken for.
type AuditActor struct {
	// Username is the authenticated user's name; an API token's is its
	// ServiceAccount's, system:serviceaccount:PROJECT:NAME.
	//
	// +kubebuilder:validation:MinLength=1
	Username string `json:"username"`
	// Groups are the user's groups, as authenticated.
	//
	// +optional
	Groups []string `json:"groups,omitempty"`
}

// AuditTarget is the object an audited action was about.
type AuditTarget struct {
	// Kind is the object's kind, such as Stage or Freight.
	//
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
	// Name is the object's name. Objects of kinds outside kargo.akuity.io
	// (Secrets, Roles, ...) are recorded without it: every viewer of the
	// project reads the trail, and RBAC may not let them know those names.
	//
	// +optional
	Name string `json:"name,omitempty"`
	// Stage is the Stage the action concerns, when there is one: the
	// target of a promotion or approval, the Stage verified or refreshed.
	//
	// +optional
	Stage string `json:"stage,omitempty"`
	// Freight is the Freight the action concerns, when there is one.
	//
	// +optional
	Freight string `json:"freight,omitempty"`
}

// AuditOutcome is how an audited action ended.
type AuditOutcome struct {
	// Result is Succeeded, Failed or Refused.
	Result AuditResult `json:"result"`
	// Code is the HTTP status code the API server answered with.
	Code int32 `json:"code"`
	// Message is the error the caller was told, when the action was not
	// done (at most 1024 characters).
	//
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// AuditRecordList is a list of AuditRecords.
//
// +kubebuilder:object:root=true
type AuditRecordList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuditRecord `json:"items"`
}
