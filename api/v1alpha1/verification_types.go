package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Verification says how a Stage checks Freight after promoting it: HTTP
// checks run by kargo itself and, for users of Argo Rollouts, analysis
// templates run as an AnalysisRun. Every one must pass.
//
// +kubebuilder:validation:XValidation:rule="size(self.?http.orValue([])) + size(self.?analysisTemplates.orValue([])) > 0",message="verification needs at least one http check or analysis template"
type Verification struct {
	// HTTP are checks kargo runs against HTTP endpoints.
	//
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	HTTP []HTTPCheck `json:"http,omitempty"`
	// AnalysisTemplates are Argo Rollouts AnalysisTemplates, in the Stage's
	// namespace, run together as one AnalysisRun.
	//
	// +kubebuilder:validation:MaxItems=16
	// +optional
	AnalysisTemplates []AnalysisTemplateReference `json:"analysisTemplates,omitempty"`
}

// AnalysisTemplateReference names an AnalysisTemplate.
type AnalysisTemplateReference struct {
	// Name is the AnalysisTemplate's name.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// HTTPCheck measures an HTTP endpoint Count times, Interval apart; it
// fails once more than FailureLimit measurements have failed, and passes
// when all were made without that.
type HTTPCheck struct {
	// Name identifies the check in the Stage's status.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')`,message="name must be lowercase letters, digits and '-', starting and ending with a letter or digit, such as smoke-test"
	Name string `json:"name"`
	// URL is the endpoint, http or https. The controller connects only
	// where its outbound address policy allows: public addresses, unless
	// its --allow-outbound or --allow-private-outbound flags allow more.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('http://') || self.startsWith('https://')",message="url must start with http:// or https://"
	// +kubebuilder:validation:XValidation:rule=`!self.matches('^(?i)https?://[^/?#]*@')`,message="url must not hold credentials (user:password@ or a token before @): anyone who may read the Stage would see them; send them in a header whose valueFrom names a Secret"
	URL string `json:"url"`
	// Method is the HTTP method; GET when empty.
	//
	// +kubebuilder:validation:Enum=GET;HEAD;POST;PUT
	// +optional
	Method string `json:"method,omitempty"`
	// Headers are sent with each request.
	//
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Headers []HTTPHeader `json:"headers,omitempty"`
	// Body is sent with POST and PUT requests.
	//
	// +kubebuilder:validation:MaxLength=65536
	// +optional
	Body string `json:"body,omitempty"`
	// SuccessCodes are the status codes that pass; any 2xx when empty.
	//
	// +kubebuilder:validation:MaxItems=32
	// +optional
	SuccessCodes []int32 `json:"successCodes,omitempty"`
	// SuccessExpression is a CEL expression over the response that must be
	// true, with `status` (int), `headers` (map of lower-case name to first
	// value) and `body` (the parsed JSON, or null), such as
	// `body.status == "ok" && body.errors < 5`.
	//
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	SuccessExpression string `json:"successExpression,omitempty"`
	// Interval is the time between measurements; 10s when empty.
	//
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
	// Count is how many measurements are made; 1 when zero.
	//
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Count int32 `json:"count,omitempty"`
	// FailureLimit is how many measurements may fail before the check
	// fails; 0 when empty.
	//
	// +kubebuilder:validation:Minimum=0
	// +optional
	FailureLimit int32 `json:"failureLimit,omitempty"`
	// Timeout bounds each request; 10s when empty.
	//
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// HTTPHeader is a header sent with a check's requests, its value given or
// read from a Secret in the Stage's namespace.
//
// +kubebuilder:validation:XValidation:rule="has(self.value) != has(self.valueFrom)",message="a header needs exactly one of value or valueFrom"
type HTTPHeader struct {
	// Name is the header's name.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`
	// Value is the header's value.
	//
	// +optional
	Value *string `json:"value,omitempty"`
	// ValueFrom reads the value from a Secret.
	//
	// +optional
	ValueFrom *SecretKeyRef `json:"valueFrom,omitempty"`
}

// SecretKeyRef names a key of a Secret in the same namespace.
type SecretKeyRef struct {
	// Name is the Secret's name.
	//
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Key is the key in the Secret's data.
	//
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// VerificationPhase is where a verification is.
//
// +kubebuilder:validation:Enum=Pending;Running;Successful;Failed;Error;Aborted
type VerificationPhase string

const (
	// VerificationPhasePending means the verification waits for the Stage
	// to become healthy.
	VerificationPhasePending VerificationPhase = "Pending"
	// VerificationPhaseRunning means checks are being made.
	VerificationPhaseRunning VerificationPhase = "Running"
	// VerificationPhaseSuccessful means every check passed.
	VerificationPhaseSuccessful VerificationPhase = "Successful"
	// VerificationPhaseFailed means a check failed.
	VerificationPhaseFailed VerificationPhase = "Failed"
	// VerificationPhaseError means a check could not be made, such as a
	// refused URL or a missing AnalysisTemplate.
	VerificationPhaseError VerificationPhase = "Error"
	// VerificationPhaseAborted means a user stopped the verification.
	VerificationPhaseAborted VerificationPhase = "Aborted"
)

// IsTerminal says whether the verification has ended.
func (p VerificationPhase) IsTerminal() bool {
	switch p {
	case VerificationPhaseSuccessful, VerificationPhaseFailed, VerificationPhaseError, VerificationPhaseAborted:
		return true
	}
	return false
}

// VerificationInfo is one verification of one Freight in a Stage.
type VerificationInfo struct {
	// ID tells verifications apart; it changes with each attempt.
	ID string `json:"id"`
	// Freight is the Freight being verified.
	Freight string `json:"freight"`
	// Phase is where the verification is.
	Phase VerificationPhase `json:"phase"`
	// Message explains a phase other than Successful.
	//
	// +optional
	Message string `json:"message,omitempty"`
	// StartTime is when the checks began.
	//
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// FinishTime is when the verification ended.
	//
	// +optional
	FinishTime *metav1.Time `json:"finishTime,omitempty"`
	// Checks are the results of the HTTP checks.
	//
	// +optional
	Checks []CheckResult `json:"checks,omitempty"`
	// AnalysisRun is the AnalysisRun made from the analysis templates.
	//
	// +optional
	AnalysisRun *AnalysisRunReference `json:"analysisRun,omitempty"`
}

// CheckResult is the outcome so far of one HTTP check.
type CheckResult struct {
	// Name is the check's name.
	Name string `json:"name"`
	// Phase is Running, Successful, Failed or Error.
	Phase VerificationPhase `json:"phase"`
	// Measurements is how many measurements were made.
	Measurements int32 `json:"measurements"`
	// Failures is how many of them failed.
	Failures int32 `json:"failures"`
	// Message says what the last failed measurement saw.
	//
	// +optional
	Message string `json:"message,omitempty"`
}

// AnalysisRunReference names an AnalysisRun and mirrors its phase.
type AnalysisRunReference struct {
	// Name is the AnalysisRun's name, in the Stage's namespace.
	Name string `json:"name"`
	// Phase is the AnalysisRun's phase as Argo Rollouts reports it.
	//
	// +optional
	Phase string `json:"phase,omitempty"`
}

// Annotations on a Stage that ask the controller to act on its
// verification; the value is a token, acted on once (the status records the
// last one handled).
const (
	// ReverifyAnnotationKey asks for a new verification of the current
	// Freight.
	ReverifyAnnotationKey = "kargo.akuity.io/reverify"
	// AbortVerificationAnnotationKey asks to stop the running verification.
	AbortVerificationAnnotationKey = "kargo.akuity.io/abort-verification"
	// AuthorizedStageAnnotationKey is set on an Argo CD Application, with the
	// value "<project>:<stage>", to let that Stage change it.
	AuthorizedStageAnnotationKey = "kargo.akuity.io/authorized-stage"
)
