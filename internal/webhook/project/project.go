// Package project holds the admission rules about projects: a Project may
// not take over a namespace that is not a project, and kargo's namespaced
// resources live only in project namespaces.
package project

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/webhook/deny"
)

// Validator checks the creation of Projects.
type Validator struct {
	// Reader reads namespaces live: a cache could miss one created a
	// moment ago.
	Reader client.Reader
}

// Handle refuses a Project whose namespace already exists without the
// project label: adopting it silently would put an unrelated namespace
// under kargo's control.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	ns := &corev1.Namespace{}
	err := v.Reader.Get(ctx, client.ObjectKey{Name: req.Name}, ns)
	switch {
	case apierrors.IsNotFound(err):
		return admission.Allowed("")
	case err != nil:
		return deny.Error(fmt.Errorf("get namespace %s: %w", req.Name, err))
	case IsProjectNamespace(ns):
		return admission.Allowed("")
	}
	return deny.Conflict(fmt.Sprintf("namespace %q already exists and is not a Kargo project; label it %s=%s to adopt it into a Project, or choose another name",
		req.Name, kargoapi.ProjectLabelKey, kargoapi.LabelTrueValue))
}

// IsProjectNamespace says whether ns is labelled as a Kargo project.
func IsProjectNamespace(ns *corev1.Namespace) bool {
	return ns.Labels[kargoapi.ProjectLabelKey] == kargoapi.LabelTrueValue
}

// RequireProject returns a refusal when req creates an object outside a
// project namespace, and nil otherwise; every kind's webhook calls it first. A namespace being deleted is no
// longer a place for new objects either.
func RequireProject(ctx context.Context, r client.Reader, req admission.Request) *admission.Response {
	if req.Operation != admissionv1.Create {
		return nil
	}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: req.Namespace}, ns); err != nil {
		resp := deny.Error(fmt.Errorf("get namespace %s: %w", req.Namespace, err))
		return &resp
	}
	if !IsProjectNamespace(ns) {
		resp := deny.Forbidden(fmt.Sprintf("namespace %q is not a Kargo project, and %s live only in projects: create a Project named %q, or label the namespace %s=%s",
			req.Namespace, req.Resource.Resource, req.Namespace, kargoapi.ProjectLabelKey, kargoapi.LabelTrueValue))
		return &resp
	}
	return nil
}
