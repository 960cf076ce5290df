package analysis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// The kinds of Argo Rollouts this package reads and writes.
var (
	// TemplateGVK is Argo Rollouts' AnalysisTemplate.
	TemplateGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "AnalysisTemplate"}
	// RunGVK is Argo Rollouts' AnalysisRun.
	RunGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "AnalysisRun"}
)

// Phases of an AnalysisRun, as Argo Rollouts reports them.
const (
	// PhasePending means Argo Rollouts has not started measuring; a run
	// with no phase yet is reported as Pending too.
	PhasePending = "Pending"
	// PhaseRunning means measurements are being made.
	PhaseRunning = "Running"
	// PhaseSuccessful means every metric passed.
	PhaseSuccessful = "Successful"
	// PhaseFailed means a metric failed.
	PhaseFailed = "Failed"
	// PhaseError means measurements could not be made.
	PhaseError = "Error"
	// PhaseInconclusive means a metric could not decide, and Argo Rollouts
	// leaves the judgement to a person.
	PhaseInconclusive = "Inconclusive"
)

// Runner starts, watches and stops the AnalysisRuns of Stages'
// verifications.
type Runner struct {
	// Client reads AnalysisTemplates and writes AnalysisRuns. Its scheme
	// needs no Argo Rollouts types.
	Client client.Client
}

// Start creates the AnalysisRun of one verification of freight in st from
// every AnalysisTemplate the Stage lists, and returns the run's name.
//
// The run is named "<stage>.<verificationID>" (shortened with a hash when
// that is not a valid name), lives in the Stage's namespace, is labelled
// with the Stage, the Freight and the verification ID, and is owned by the
// Stage, so that deleting the Stage deletes it. When a run of that name
// already exists, made by an earlier Start of the same verification before
// the controller restarted, Start returns it rather than making another.
//
// Errors a user must fix in the Stage or its templates, such as a missing
// template or a metric defined twice, match sourceerr.ErrInvalid.
func (r *Runner) Start(ctx context.Context, st *kargoapi.Stage, freight *kargoapi.Freight, verificationID string) (string, error) {
	switch {
	case st == nil || st.Name == "" || st.Namespace == "":
		return "", errors.New("start analysis: the Stage needs a name and a namespace")
	case freight == nil || freight.Name == "":
		return "", errors.New("start analysis: no Freight to verify")
	case verificationID == "":
		return "", errors.New("start analysis: the verification has no ID")
	}
	var refs []kargoapi.AnalysisTemplateReference
	if st.Spec.Verification != nil {
		refs = st.Spec.Verification.AnalysisTemplates
	}
	if len(refs) == 0 {
		return "", invalid("Stage %s/%s lists no AnalysisTemplates", st.Namespace, st.Name)
	}
	name := runName(st.Name, verificationID)
	existing, err := r.existingRun(ctx, st, name)
	if err != nil || existing {
		return name, err
	}

	templates, err := r.templates(ctx, st.Namespace, refs)
	if err != nil {
		return "", err
	}
	spec, err := merge(templates)
	if err != nil {
		return "", err
	}
	run := &unstructured.Unstructured{Object: map[string]any{"spec": spec.object()}}
	run.SetGroupVersionKind(RunGVK)
	run.SetNamespace(st.Namespace)
	run.SetName(name)
	run.SetLabels(map[string]string{
		kargoapi.StageLabelKey:          labelValue(st.Name),
		kargoapi.FreightLabelKey:        labelValue(freight.Name),
		kargoapi.VerificationIDLabelKey: labelValue(verificationID),
	})
	// No blockOwnerDeletion: the run need not outlive the Stage, and setting
	// it would need the right to update stages/finalizers.
	controller := true
	run.SetOwnerReferences([]metav1.OwnerReference{{
		APIVersion: kargoapi.GroupVersion.String(),
		Kind:       "Stage",
		Name:       st.Name,
		UID:        st.UID,
		Controller: &controller,
	}})
	if err := r.Client.Create(ctx, run); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Another Start of the same verification won the race.
			if _, err := r.existingRun(ctx, st, name); err != nil {
				return "", err
			}
			return name, nil
		}
		return "", fmt.Errorf("create AnalysisRun %s/%s: %w", st.Namespace, name, err)
	}
	return name, nil
}

// existingRun says whether the run called name exists already, refusing
// one that belongs to something other than st: a run left over from an
// earlier Stage of the same name, not yet garbage-collected, must not
// decide this Stage's verification.
func (r *Runner) existingRun(ctx context.Context, st *kargoapi.Stage, name string) (bool, error) {
	run := &unstructured.Unstructured{}
	run.SetGroupVersionKind(RunGVK)
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: name}, run)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("get AnalysisRun %s/%s: %w", st.Namespace, name, err)
	}
	for _, o := range run.GetOwnerReferences() {
		if o.UID == st.UID && o.Kind == "Stage" && o.Name == st.Name {
			return true, nil
		}
	}
	return false, fmt.Errorf("AnalysisRun %s/%s exists but does not belong to Stage %s (uid %s)", st.Namespace, name, st.Name, st.UID)
}

// templates reads the referenced AnalysisTemplates, each once, in the order
// the Stage lists them.
func (r *Runner) templates(ctx context.Context, namespace string, refs []kargoapi.AnalysisTemplateReference) ([]*unstructured.Unstructured, error) {
	seen := map[string]bool{}
	var out []*unstructured.Unstructured
	for _, ref := range refs {
		if seen[ref.Name] {
			continue
		}
		seen[ref.Name] = true
		t := &unstructured.Unstructured{}
		t.SetGroupVersionKind(TemplateGVK)
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, t)
		switch {
		case apierrors.IsNotFound(err):
			return nil, invalid("AnalysisTemplate %q not found in namespace %q", ref.Name, namespace)
		case err != nil:
			return nil, fmt.Errorf("get AnalysisTemplate %s/%s: %w", namespace, ref.Name, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// RunStatus is what kargo reads of an AnalysisRun.
type RunStatus struct {
	// Phase is the run's phase, Pending while Argo Rollouts has not set
	// one.
	Phase string
	// Message is what Argo Rollouts says with it, such as which metric
	// failed and why.
	Message string
	// Terminated says the run was asked to stop (spec.terminate) before it
	// ended by itself, by kargo or by anyone who may patch it.
	Terminated bool
}

// Status reads the AnalysisRun namespace/name. A run that does not exist is
// an error for which apierrors.IsNotFound holds.
func (r *Runner) Status(ctx context.Context, namespace, name string) (RunStatus, error) {
	run := &unstructured.Unstructured{}
	run.SetGroupVersionKind(RunGVK)
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, run); err != nil {
		return RunStatus{}, fmt.Errorf("get AnalysisRun %s/%s: %w", namespace, name, err)
	}
	var s RunStatus
	s.Phase, _, _ = unstructured.NestedString(run.Object, "status", "phase")
	s.Message, _, _ = unstructured.NestedString(run.Object, "status", "message")
	s.Terminated, _, _ = unstructured.NestedBool(run.Object, "spec", "terminate")
	if s.Phase == "" {
		s.Phase = PhasePending
	}
	return s, nil
}

// Abort asks Argo Rollouts to stop the AnalysisRun namespace/name by
// setting spec.terminate; Argo Rollouts ends the run and sets its phase.
func (r *Runner) Abort(ctx context.Context, namespace, name string) error {
	run := &unstructured.Unstructured{}
	run.SetGroupVersionKind(RunGVK)
	run.SetNamespace(namespace)
	run.SetName(name)
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"terminate":true}}`))
	if err := r.Client.Patch(ctx, run, patch); err != nil {
		return fmt.Errorf("terminate AnalysisRun %s/%s: %w", namespace, name, err)
	}
	return nil
}

// ToVerificationPhase maps an AnalysisRun's status to the phase of the
// verification it belongs to.
//
// Kargo verifies Freight only on a clear pass, so an Inconclusive run,
// which Argo Rollouts leaves for a person to judge, fails the verification.
// A run that was terminated is Successful in Argo Rollouts' eyes unless a
// metric had failed already (it ends a Rollout's background analysis that
// way), but its metrics did not all finish: kargo reports it Aborted, which
// verifies nothing. Pending, Running and no phase yet all mean the run is
// still going. A phase this version does not know is an Error rather than
// Running: waiting on it could last forever, unnoticed.
func ToVerificationPhase(s RunStatus) kargoapi.VerificationPhase {
	switch s.Phase {
	case PhaseSuccessful:
		if s.Terminated {
			return kargoapi.VerificationPhaseAborted
		}
		return kargoapi.VerificationPhaseSuccessful
	case PhaseFailed, PhaseInconclusive:
		return kargoapi.VerificationPhaseFailed
	case PhaseError:
		return kargoapi.VerificationPhaseError
	case PhasePending, PhaseRunning, "":
		return kargoapi.VerificationPhaseRunning
	default:
		return kargoapi.VerificationPhaseError
	}
}

// hashLength is how many hex digits of a SHA-256 sum end a shortened name
// or label value: 64 bits, enough that two verifications do not collide.
const hashLength = 16

// runName returns "<stage>.<verificationID>" when that is a valid object
// name, and otherwise the Stage's name, cut to fit, followed by a hash of
// the whole. Both are the same for the same inputs, which is what makes
// Start idempotent.
func runName(stage, verificationID string) string {
	name := stage + "." + verificationID
	if len(validation.IsDNS1123Subdomain(name)) == 0 {
		return name
	}
	// A Stage's name is a valid object name, and so is any prefix of it
	// that does not end with '-' or '.'.
	prefix := stage
	if limit := validation.DNS1123SubdomainMaxLength - 1 - hashLength; len(prefix) > limit {
		prefix = prefix[:limit]
	}
	prefix = strings.TrimRight(prefix, "-.")
	if prefix == "" {
		return hash(name)
	}
	return prefix + "." + hash(name)
}

// labelValue returns s when it is a valid label value, and otherwise as
// much of it as fits, with characters a label value cannot hold replaced,
// followed by a hash of s.
func labelValue(s string) string {
	if len(validation.IsValidLabelValue(s)) == 0 {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if !isAlphanumeric(c) && c != '-' && c != '_' && c != '.' {
			b[i] = '-'
		}
	}
	prefix := string(b)
	if limit := validation.LabelValueMaxLength - 1 - hashLength; len(prefix) > limit {
		prefix = prefix[:limit]
	}
	// Every byte is ASCII now; a label value starts and ends alphanumeric.
	prefix = strings.TrimFunc(prefix, func(c rune) bool { return !isAlphanumeric(byte(c)) })
	if prefix == "" {
		return hash(s)
	}
	return prefix + "-" + hash(s)
}

func isAlphanumeric(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:hashLength]
}
