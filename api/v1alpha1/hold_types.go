package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Hold is a stop on promotions set by a person: a Stage's hold
// (status.hold) or a Project's freeze (status.freeze). kargo's API server
// writes it with its own identity after checking the caller's verb (hold or
// freeze; see docs/flow-control.md), taking By from the caller's
// authenticated identity, never from the request; no user role may write the
// status of Stages or Projects, so nobody can set, change or lift one any
// other way.
type Hold struct {
	// Reason is why promotions stop, as the person who set it wrote it.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`
	// By is who set it, as kargo's API server authenticated them.
	By string `json:"by"`
	// At is when it was set.
	At metav1.Time `json:"at"`
}

// Virtual RBAC verbs of holds, freezes and promotion windows, on
// stages.kargo.akuity.io. Kubernetes never checks them itself; kargo asks
// with a SubjectAccessReview as the caller.
const (
	// HoldVerb allows holding a Stage (on the Stage, or on every Stage).
	HoldVerb = "hold"
	// ReleaseVerb allows releasing a Stage's hold.
	ReleaseVerb = "release"
	// FreezeVerb, granted on every Stage of a project (no resourceNames),
	// allows freezing the project.
	FreezeVerb = "freeze"
	// UnfreezeVerb, granted on every Stage of a project, allows unfreezing
	// it.
	UnfreezeVerb = "unfreeze"
	// OverrideWindowVerb allows promoting into the Stage while its
	// promotion windows keep promotions out (see
	// OverrideWindowAnnotationKey).
	OverrideWindowVerb = "override-window"
)

// OverrideWindowAnnotationKey, on a Promotion, asks that it run even while
// the promotion windows of its Stage keep promotions out. Its value is
// LabelTrueValue. kargo's admission webhook refuses a Promotion that carries
// it unless its creator holds OverrideWindowVerb on the Stage, and refuses
// adding, changing or removing it afterwards. It overrides windows only,
// never a hold or a freeze.
const OverrideWindowAnnotationKey = "kargo.akuity.io/override-window"

// Audit actions of holds and freezes.
const (
	AuditActionHold     = "hold"
	AuditActionRelease  = "release"
	AuditActionFreeze   = "freeze"
	AuditActionUnfreeze = "unfreeze"
)

// PromotionWindowKind says whether a window lets promotions in or keeps
// them out.
//
// +kubebuilder:validation:Enum=Allow;Deny
type PromotionWindowKind string

const (
	// PromotionWindowAllow lets promotions into the Stages it selects only
	// while one of its spans (or of another Allow window selecting the
	// Stage) is open.
	PromotionWindowAllow PromotionWindowKind = "Allow"
	// PromotionWindowDeny keeps promotions out of the Stages it selects
	// while one of its spans is open. Deny wins over Allow.
	PromotionWindowDeny PromotionWindowKind = "Deny"
)

// PromotionWindow is a schedule, in a time zone, of when promotions may
// (Allow) or may not (Deny) start in the Stages of its project it selects.
// It applies to auto-promotions, and to manual ones unless their creator
// holds the override-window verb on the Stage and asked to override
// (OverrideWindowAnnotationKey). A Promotion kept out waits, Pending, with a
// message naming the window and when it ends; none is lost.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kargo
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.kind`
// +kubebuilder:printcolumn:name="Time Zone",type=string,JSONPath=`.spec.timeZone`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PromotionWindow struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the window's schedule and the Stages it applies to.
	Spec PromotionWindowSpec `json:"spec"`
}

// PromotionWindowSpec is a window's schedule and the Stages it applies to.
type PromotionWindowSpec struct {
	// Kind is Allow or Deny.
	Kind PromotionWindowKind `json:"kind"`
	// TimeZone is the IANA time zone the spans are read in, such as
	// Europe/Berlin; UTC when empty. Spans follow the wall clock across
	// daylight saving time changes.
	//
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
	// Spans are when the window is open.
	//
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Spans []PromotionWindowSpan `json:"spans"`
	// Stages selects the Stages of the project the window applies to; every
	// Stage of the project when empty.
	//
	// +optional
	Stages PromotionWindowStages `json:"stages,omitempty"`
	// Description says what the window is for; promotions it keeps out
	// quote it.
	//
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Description string `json:"description,omitempty"`
}

// PromotionWindowSpan is one recurring span of time. Either both start
// and end name a weekday ("Fri 16:00" to "Mon 08:00": a weekly span), or
// neither does ("09:00" to "17:00": a daily span, on days, every day when
// empty; an end at or before the start ends on the next day).
//
// +kubebuilder:validation:XValidation:rule="self.start.contains(' ') == self.end.contains(' ')",message="start and end both name a weekday (\"Fri 16:00\" to \"Mon 08:00\") or neither does (\"09:00\" to \"17:00\")"
// +kubebuilder:validation:XValidation:rule="!self.start.contains(' ') || size(self.?days.orValue([])) == 0",message="days applies to daily spans only (start and end without a weekday)"
type PromotionWindowSpan struct {
	// Start is when the span opens: "HH:MM" or "Day HH:MM" (Mon, Tue, Wed,
	// Thu, Fri, Sat, Sun), in 24-hour wall-clock time.
	//
	// +kubebuilder:validation:MaxLength=9
	// +kubebuilder:validation:Pattern=`^((Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?([01][0-9]|2[0-3]):[0-5][0-9]$`
	Start string `json:"start"`
	// End is when the span closes, in the form of Start.
	//
	// +kubebuilder:validation:MaxLength=9
	// +kubebuilder:validation:Pattern=`^((Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?([01][0-9]|2[0-3]):[0-5][0-9]$`
	End string `json:"end"`
	// Days are the days a daily span opens on; every day when empty.
	//
	// +kubebuilder:validation:MaxItems=7
	// +kubebuilder:validation:items:Enum=Mon;Tue;Wed;Thu;Fri;Sat;Sun
	// +listType=set
	// +optional
	Days []string `json:"days,omitempty"`
}

// PromotionWindowStages selects Stages of a window's project: those named
// (a name, or a glob such as prod-*) and those whose labels match. A Stage
// that either selects is selected.
type PromotionWindowStages struct {
	// Names are Stage names or globs (*, ?, [...]).
	//
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Names []string `json:"names,omitempty"`
	// LabelSelector selects Stages by their labels.
	//
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
}

// PromotionWindowList is a list of PromotionWindows.
//
// +kubebuilder:object:root=true
type PromotionWindowList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PromotionWindow `json:"items"`
}
