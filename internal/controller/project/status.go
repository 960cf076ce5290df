package project

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/controller/conditions"
)

// namespaceState is what the controller found where a Project's namespace
// should be.
type namespaceState int

const (
	// namespaceMissing: no namespace of the Project's name.
	namespaceMissing namespaceState = iota
	// namespaceTerminating: the namespace is being deleted.
	namespaceTerminating
	// namespaceForeign: the namespace exists but is not a Kargo project.
	namespaceForeign
	// namespaceOfProject: the namespace exists and is labelled as a Kargo
	// project, whether the Project created it or adopted it.
	namespaceOfProject
)

// classify says what ns, possibly nil, is to a Project of the same name. A
// namespace being deleted is terminating whatever its labels: it is going
// away either way.
func classify(ns *corev1.Namespace) namespaceState {
	switch {
	case ns == nil:
		return namespaceMissing
	case !ns.DeletionTimestamp.IsZero():
		return namespaceTerminating
	case ns.Labels[kargoapi.ProjectLabelKey] == kargoapi.LabelTrueValue:
		return namespaceOfProject
	default:
		return namespaceForeign
	}
}

// setReady marks the Project ready: its namespace exists and is labelled.
func setReady(p *kargoapi.Project) {
	p.Status.Phase = kargoapi.ProjectPhaseReady
	p.Status.ObservedGeneration = p.Generation
	conditions.Ready(&p.Status.Conditions, p.Generation, kargoapi.ReasonNamespaceReady,
		fmt.Sprintf("namespace %q is ready", p.Name))
}

// setTerminating marks the Project as initializing while its namespace is
// being deleted. The generation is not marked observed: the controller is
// still at work on it.
func setTerminating(p *kargoapi.Project) {
	p.Status.Phase = kargoapi.ProjectPhaseInitializing
	conditions.Retrying(&p.Status.Conditions, p.Generation, kargoapi.ReasonNamespaceTerminating,
		fmt.Sprintf("namespace %q is being deleted; it will be created again for this Project once it is gone", p.Name))
}

// setNotAProject marks the Project failed and stalled because a namespace of
// its name belongs to something else. The generation is observed: the
// controller has come to its conclusion, and only the user can change it.
func setNotAProject(p *kargoapi.Project) {
	p.Status.Phase = kargoapi.ProjectPhaseInitializationFailed
	p.Status.ObservedGeneration = p.Generation
	conditions.Stalled(&p.Status.Conditions, p.Generation, kargoapi.ReasonNamespaceNotAProject,
		fmt.Sprintf("namespace %q exists and is not a Kargo project; label it %s=%s to adopt it into this Project, or delete the Project and choose another name",
			p.Name, kargoapi.ProjectLabelKey, kargoapi.LabelTrueValue))
}

// readyTransition returns the Ready condition of now and whether its status
// or reason differs from that in old. A message that changes alone is no
// transition.
func readyTransition(old, now []metav1.Condition) (metav1.Condition, bool) {
	cur := meta.FindStatusCondition(now, kargoapi.ConditionReady)
	if cur == nil {
		return metav1.Condition{}, false
	}
	prev := meta.FindStatusCondition(old, kargoapi.ConditionReady)
	if prev != nil && prev.Status == cur.Status && prev.Reason == cur.Reason {
		return *cur, false
	}
	return *cur, true
}
