// Package holds holds the admission rules of holds, freezes and promotion
// windows:
//
//   - a Promotion may carry kargo.akuity.io/override-window only when its
//     creator holds the override-window verb on its Stage, asked as the
//     creator; nobody may add, change or remove it afterwards (a promoter
//     may update Promotions, but not give one a right they lack);
//   - a held Stage may not be deleted (release it first): deleting and
//     creating it again would lift the hold for someone who may edit Stages
//     but not release them;
//   - a PromotionWindow must be readable: a time zone the controller knows,
//     spans it can parse, globs that are globs.
package holds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/flowgate"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
)

// OverrideValidator checks kargoapi.OverrideWindowAnnotationKey on the
// creation and change of Promotions.
type OverrideValidator struct {
	Authz  *authz.Authorizer
	Decode admission.Decoder
}

// Handle refuses an override its creator may not make, and any change of
// the annotation after creation.
func (v *OverrideValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	p, old := &kargoapi.Promotion{}, &kargoapi.Promotion{}
	changed, refusal := admit.Decode(v.Decode, req, "Promotion", p, old)
	if refusal != nil {
		return *refusal
	}
	value, asked := p.Annotations[kargoapi.OverrideWindowAnnotationKey]
	if changed {
		was, had := old.Annotations[kargoapi.OverrideWindowAnnotationKey]
		if had != asked || was != value {
			return deny.Forbidden(fmt.Sprintf("metadata.annotations[%s] is set when a Promotion is created and never changes: promote again with --override-window instead", kargoapi.OverrideWindowAnnotationKey))
		}
		return admission.Allowed("")
	}
	if !asked {
		return admission.Allowed("")
	}
	if value != kargoapi.LabelTrueValue {
		return deny.Invalid(fmt.Sprintf("metadata.annotations[%s] must be %q, or absent", kargoapi.OverrideWindowAnnotationKey, kargoapi.LabelTrueValue))
	}
	// Someone who may not promote into the Stage is refused by the
	// promotions webhook, with that reason; answering the same request
	// with another would make the refusal depend on which webhook the API
	// server heard from first.
	var noPromote *authz.Denied
	switch err := v.Authz.AuthorizePromote(ctx, req.UserInfo, req.Namespace, p.Spec.Stage); {
	case errors.As(err, &noPromote):
		return admission.Allowed("")
	case err != nil:
		return deny.Error(err)
	}
	err := v.Authz.AuthorizeStageVerb(ctx, req.UserInfo, req.Namespace, kargoapi.OverrideWindowVerb, p.Spec.Stage)
	var denied *authz.StageVerbDenied
	switch {
	case errors.As(err, &denied):
		return deny.Forbidden(fmt.Sprintf("metadata.annotations[%s] overrides the promotion windows of Stage %q: %s; promote without it, and the Promotion waits for the window to open",
			kargoapi.OverrideWindowAnnotationKey, p.Spec.Stage, denied.Error()))
	case err != nil:
		return deny.Error(err)
	}
	return admission.Allowed("")
}

// StageDeleteValidator refuses to delete a held Stage.
type StageDeleteValidator struct {
	// Reader reads Stages and namespaces live.
	Reader client.Reader
}

// Handle lets a held Stage go only with its namespace (the project being
// deleted), which no user role may do.
func (v *StageDeleteValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Delete {
		return admission.Allowed("")
	}
	st := &kargoapi.Stage{}
	if len(req.OldObject.Raw) > 0 {
		// The Stage being deleted. A collection delete (the namespace
		// controller's, when a project goes) names no Stage in the
		// request, only in its old object.
		if err := json.Unmarshal(req.OldObject.Raw, st); err != nil {
			return deny.Error(fmt.Errorf("decode the Stage being deleted: %w", err))
		}
	} else {
		switch err := v.Reader.Get(ctx, client.ObjectKey{Namespace: req.Namespace, Name: req.Name}, st); {
		case apierrors.IsNotFound(err):
			return admission.Allowed("")
		case err != nil:
			return deny.Error(fmt.Errorf("get Stage %s: %w", req.Name, err))
		}
	}
	if st.Status.Hold == nil {
		return admission.Allowed("")
	}
	ns := &corev1.Namespace{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Name: req.Namespace}, ns); err == nil && !ns.DeletionTimestamp.IsZero() {
		return admission.Allowed("")
	}
	h := st.Status.Hold
	return deny.Forbidden(fmt.Sprintf("Stage %q is held by %s (%q): release it first (kargo release stage %s --project %s), which needs the %q verb on it; deleting it would lift the hold",
		st.Name, h.By, h.Reason, st.Name, req.Namespace, kargoapi.ReleaseVerb))
}

// WindowValidator checks that PromotionWindows can be read.
type WindowValidator struct {
	Decode admission.Decoder
}

// Handle refuses a window the controller could not evaluate.
func (v *WindowValidator) Handle(_ context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	w := &kargoapi.PromotionWindow{}
	if _, refusal := admit.Decode(v.Decode, req, "PromotionWindow", w, nil); refusal != nil {
		return *refusal
	}
	if _, err := flowgate.ParseWindow(w); err != nil {
		return deny.Invalid("spec: " + err.Error())
	}
	return admission.Allowed("")
}
