package v1alpha1

import (
	"bytes"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PromotionTemplate is the promotion process of a Stage: the steps every
// Promotion into it runs, in order. It is the general form of a Stage's
// promotionMechanisms, which run as a fixed list of the same steps.
type PromotionTemplate struct {
	// Spec holds the variables and steps.
	Spec PromotionTemplateSpec `json:"spec"`
}

// PromotionTemplateSpec holds a promotion process's variables and steps.
type PromotionTemplateSpec struct {
	// Vars are variables the steps' expressions read as vars.NAME. They
	// take precedence over the Stage's spec.vars of the same name.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=50
	Vars []ExpressionVariable `json:"vars,omitempty"`
	// Steps run in order; each step's outputs are available to the steps
	// after it as outputs.ALIAS.
	//
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	Steps []PromotionStep `json:"steps"`
}

// ExpressionVariable is a named value for expressions. The value may itself
// hold expressions (${{ ... }}), which see ctx and the variables defined
// before it.
type ExpressionVariable struct {
	// Name is how expressions refer to the variable: vars.NAME.
	//
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-zA-Z_][a-zA-Z0-9_]*$')`,message="a variable's name is letters, digits and '_', not starting with a digit, so that expressions can write vars.NAME"
	Name string `json:"name"`
	// Value is the variable's value.
	//
	// +optional
	Value string `json:"value,omitempty"`
}

// PromotionStep is one step of a promotion process: a built-in step named
// by uses, or the steps of a PromotionTask or ClusterPromotionTask.
//
// +kubebuilder:validation:XValidation:rule="has(self.uses) != has(self.task)",message="a step names either uses (a built-in step such as git-clone) or task (a PromotionTask), not both and not neither"
type PromotionStep struct {
	// Uses names the built-in step to run, such as git-clone or
	// kustomize-set-image.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z][a-z0-9-]*$')`,message="uses names a step such as git-clone: lowercase letters, digits and '-', starting with a letter"
	Uses string `json:"uses,omitempty"`
	// Task names a PromotionTask (in the project) or ClusterPromotionTask
	// whose steps run in place of this one.
	//
	// +optional
	Task *PromotionTaskReference `json:"task,omitempty"`
	// As is the step's alias: later steps read its outputs as
	// outputs.ALIAS. Aliases are unique within a process; a step without
	// one is called step-N (N counting from 1).
	//
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-zA-Z_][a-zA-Z0-9_-]*(::[a-zA-Z_][a-zA-Z0-9_-]*)?$')`,message="as is an alias that later steps write as outputs.ALIAS: letters, digits, '_' and '-', not starting with a digit"
	As string `json:"as,omitempty"`
	// If is an expression that decides whether the step runs; without it a
	// step runs when every step before it succeeded (or continued on
	// error). always(), success() and failure() are available.
	//
	// +optional
	If string `json:"if,omitempty"`
	// ContinueOnError lets the process go on when this step fails; the
	// step is recorded as Errored and the Promotion can still succeed.
	//
	// +optional
	ContinueOnError bool `json:"continueOnError,omitempty"`
	// Retry says how a failing or waiting step is tried again.
	//
	// +optional
	Retry *PromotionStepRetry `json:"retry,omitempty"`
	// Vars are variables of this step alone (and, for a task, its steps).
	//
	// +optional
	// +kubebuilder:validation:MaxItems=50
	Vars []ExpressionVariable `json:"vars,omitempty"`
	// Config is the step's configuration; each step documents its fields.
	// Strings in it may hold expressions (${{ ... }}), evaluated just
	// before the step runs.
	//
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Config *StepConfig `json:"config,omitempty"`
}

// PromotionStepRetry says how a step is tried again.
type PromotionStepRetry struct {
	// Timeout bounds how long a step may keep waiting (a step waiting for
	// a pull request to be merged, say) before the Promotion fails.
	//
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// ErrorThreshold is how many consecutive errors fail the step; 1 (the
	// default) fails it on the first.
	//
	// +optional
	// +kubebuilder:validation:Minimum=1
	ErrorThreshold uint32 `json:"errorThreshold,omitempty"`
}

// PromotionTaskReference names a PromotionTask or ClusterPromotionTask.
type PromotionTaskReference struct {
	// Name is the task's name.
	//
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Kind is PromotionTask (the default: in the Stage's project) or
	// ClusterPromotionTask.
	//
	// +optional
	// +kubebuilder:validation:Enum=PromotionTask;ClusterPromotionTask
	Kind string `json:"kind,omitempty"`
}

// StepConfig is a step's configuration: any JSON object, kept as it was
// written.
type StepConfig struct {
	Raw []byte `json:"-"`
}

// MarshalJSON writes the configuration as it is.
func (c StepConfig) MarshalJSON() ([]byte, error) {
	if len(c.Raw) == 0 {
		return []byte("null"), nil
	}
	return c.Raw, nil
}

// UnmarshalJSON keeps the configuration as it is.
func (c *StepConfig) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		c.Raw = nil
		return nil
	}
	if !json.Valid(data) {
		return &json.SyntaxError{}
	}
	c.Raw = append(c.Raw[:0], data...)
	return nil
}

// PromotionTask is a reusable list of steps, with inputs as variables,
// that a Stage's promotion process runs with a step's task field.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kargo
type PromotionTask struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec holds the task's inputs and steps.
	Spec PromotionTaskSpec `json:"spec"`
}

// PromotionTaskSpec holds a task's variables (its inputs: a step that uses
// the task sets them with its own vars) and steps.
type PromotionTaskSpec struct {
	// Vars are the task's inputs and their defaults.
	//
	// +optional
	// +kubebuilder:validation:MaxItems=50
	Vars []ExpressionVariable `json:"vars,omitempty"`
	// Steps run in place of the step that uses the task; they read each
	// other's outputs as task.outputs.ALIAS.
	//
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	Steps []PromotionStep `json:"steps"`
}

// PromotionTaskList is a list of PromotionTasks.
//
// +kubebuilder:object:root=true
type PromotionTaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PromotionTask `json:"items"`
}

// ClusterPromotionTask is a PromotionTask every project may use.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=kargo
type ClusterPromotionTask struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec holds the task's inputs and steps.
	Spec PromotionTaskSpec `json:"spec"`
}

// ClusterPromotionTaskList is a list of ClusterPromotionTasks.
//
// +kubebuilder:object:root=true
type ClusterPromotionTaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterPromotionTask `json:"items"`
}

// StepStatus is what became of one step of a Promotion.
//
// +kubebuilder:validation:Enum=Running;Succeeded;Skipped;Errored;Failed
type StepStatus string

const (
	// StepStatusRunning means the step has started and not ended: it may
	// be waiting (for a pull request, say) or retrying after an error.
	StepStatusRunning StepStatus = "Running"
	// StepStatusSucceeded means the step did its work.
	StepStatusSucceeded StepStatus = "Succeeded"
	// StepStatusSkipped means the step's if expression was false.
	StepStatusSkipped StepStatus = "Skipped"
	// StepStatusErrored means the step failed and the process went on
	// (continueOnError).
	StepStatusErrored StepStatus = "Errored"
	// StepStatusFailed means the step failed, and with it the Promotion.
	StepStatusFailed StepStatus = "Failed"
)

// StepExecution records one step of a Promotion.
type StepExecution struct {
	// Alias is the step's alias (step-N when it has none); a task's steps
	// are TASKSTEP::ALIAS.
	Alias string `json:"alias"`
	// Status is what became of the step.
	Status StepStatus `json:"status"`
	// StartedAt is when the step first ran.
	//
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// FinishedAt is when the step ended.
	//
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// ErrorCount counts the step's consecutive errors.
	//
	// +optional
	ErrorCount uint32 `json:"errorCount,omitempty"`
	// Message says what the step did, waits for, or why it failed.
	//
	// +optional
	Message string `json:"message,omitempty"`
}
