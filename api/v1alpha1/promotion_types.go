package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Promotion is a request to move one piece of Freight into one Stage. Its
// name is inconsequential; only its spec matters.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kargo,shortName=promo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.spec.stage`
// +kubebuilder:printcolumn:name="Freight",type=string,JSONPath=`.spec.freight`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Promotion struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec names the Stage and the Freight to move into it.
	Spec PromotionSpec `json:"spec"`
	// Status is the outcome of the Promotion.
	//
	// +optional
	Status PromotionStatus `json:"status,omitempty"`
}

// PromotionSpec names the Stage and the Freight to move into it.
//
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a Promotion's spec is immutable; create a new Promotion instead"
type PromotionSpec struct {
	// Stage is the name of the Stage to promote into, in the same project.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')`,message="stage must be the name of a Stage of the project: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	Stage string `json:"stage"`
	// Freight is the name of the Freight to promote, one of the Stage's
	// available Freight.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Freight string `json:"freight"`
	// Vars and Steps are the promotion process, copied from the Stage when
	// the Promotion is created (with PromotionTasks expanded), so that a
	// change of the Stage does not change a Promotion that already runs.
	// kargo's admission webhook writes them; a request that sets them to
	// anything but the Stage's process is refused.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=50
	Vars []ExpressionVariable `json:"vars,omitempty"`
	// Steps: see Vars.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=200
	Steps []PromotionStep `json:"steps,omitempty"`
}

// PromotionPhase is where a Promotion is in its life cycle.
//
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Errored;Aborted
type PromotionPhase string

const (
	// PromotionPhasePending means the Promotion waits for its turn.
	PromotionPhasePending PromotionPhase = "Pending"
	// PromotionPhaseRunning means the Promotion's steps are running.
	PromotionPhaseRunning PromotionPhase = "Running"
	// PromotionPhaseSucceeded means the Freight is now the Stage's current
	// Freight.
	PromotionPhaseSucceeded PromotionPhase = "Succeeded"
	// PromotionPhaseFailed means the Promotion cannot succeed as specified,
	// for example because the Freight is not available to the Stage.
	PromotionPhaseFailed PromotionPhase = "Failed"
	// PromotionPhaseErrored means applying the promotion mechanisms hit an
	// error; the Stage and its repositories are left as they were.
	PromotionPhaseErrored PromotionPhase = "Errored"
	// PromotionPhaseAborted means someone aborted the Promotion (or a newer
	// auto-promotion replaced it) before it ended: it stopped between two
	// steps, and the steps done before are not undone.
	PromotionPhaseAborted PromotionPhase = "Aborted"
)

// IsTerminal reports whether a Promotion in this phase has ended.
func (p PromotionPhase) IsTerminal() bool {
	switch p {
	case PromotionPhaseSucceeded, PromotionPhaseFailed, PromotionPhaseErrored, PromotionPhaseAborted:
		return true
	}
	return false
}

// PromotionStatus is the outcome of a Promotion.
type PromotionStatus struct {
	// Phase is where the Promotion is in its life cycle.
	//
	// +optional
	Phase PromotionPhase `json:"phase,omitempty"`
	// Message explains the phase, and what to do when the Promotion failed.
	//
	// +optional
	Message string `json:"message,omitempty"`
	// StartTime is when the Promotion started running.
	//
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the Promotion ended.
	//
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// ObservedGeneration is the generation the controller last acted on.
	//
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// CurrentStep is the index in the Promotion's steps of the step that
	// runs now, or runs next after a restart; steps before it have ended.
	// The steps are spec.steps or, for a Stage with promotionMechanisms
	// (spec.steps empty), the steps derived from them when the Promotion
	// runs (check, git-update-N, argocd-update): status.steps names each.
	//
	// +optional
	CurrentStep int64 `json:"currentStep,omitempty"`
	// Steps records each step that has started, in order.
	//
	// +optional
	Steps []StepExecution `json:"steps,omitempty"`
	// State holds the outputs of the steps that have ended, by alias, so
	// that a restarted controller resumes with them.
	//
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	State *StepConfig `json:"state,omitempty"`
	// Approval says what the Promotion waits for while its Stage's
	// approval policies are not met.
	//
	// +optional
	Approval *PromotionApprovalStatus `json:"approval,omitempty"`
	// AbortedBy is who aborted the Promotion, when it was aborted (the
	// user, as kargo's admission webhook recorded them), or "kargo" when a
	// newer auto-promotion replaced it.
	//
	// +optional
	AbortedBy string `json:"abortedBy,omitempty"`
}

// PromotionList is a list of Promotions.
//
// +kubebuilder:object:root=true
type PromotionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Promotion `json:"items"`
}
