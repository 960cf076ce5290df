// Package admit holds the steps kargo's validating webhooks take alike:
// decoding the object a request writes (and, for a change, the object it
// replaces), and refusing a user who lacks the promote verb on a Stage.
// Each webhook package keeps its own rules and messages; this package keeps
// the plumbing the same everywhere, so a refusal reads the same way and a
// fix to it lands once.
package admit

import (
	"context"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/webhook/deny"
	"github.com/kargohq/kargo/internal/webhook/project"
)

// ProjectWrite takes the first steps of a webhook that guards the
// creation and change of a kind kept in projects: it lets every other
// operation through, refuses a namespace that is not a project, decodes
// the object written into obj (and the one replaced into old), and lets a
// change that leaves spec(obj) as spec(old) through. It returns the
// response when those steps decide, and nil when the webhook's own rules
// must.
func ProjectWrite[T runtime.Object](ctx context.Context, reader client.Reader, d admission.Decoder, req admission.Request, kind string, obj, old T, spec func(T) any) *admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		resp := admission.Allowed("")
		return &resp
	}
	if refusal := project.RequireProject(ctx, reader, req); refusal != nil {
		return refusal
	}
	changed, refusal := Decode(d, req, kind, obj, old)
	if refusal != nil {
		return refusal
	}
	if changed && equality.Semantic.DeepEqual(spec(old), spec(obj)) {
		resp := admission.Allowed("")
		return &resp
	}
	return nil
}

// Decode decodes the object req writes into obj and, when req updates an
// existing object and old is not nil, the object being changed into old.
// It says whether old was decoded, or returns a 400 naming kind when
// either cannot be decoded.
func Decode(d admission.Decoder, req admission.Request, kind string, obj, old runtime.Object) (bool, *admission.Response) {
	if err := d.Decode(req, obj); err != nil {
		resp := deny.BadRequest(fmt.Errorf("decode %s: %w", kind, err))
		return false, &resp
	}
	if req.Operation != admissionv1.Update || old == nil {
		return false, nil
	}
	if err := d.DecodeRaw(req.OldObject, old); err != nil {
		resp := deny.BadRequest(fmt.Errorf("decode the %s being changed: %w", kind, err))
		return false, &resp
	}
	return true, nil
}

// Promote returns nil when req's user may promote into stage of req's
// namespace. Otherwise it returns a 403 whose message is why (what the
// request would make kargo do, when the caller has more to say than the
// denial) followed by the reason of the denial, or a 500 when the answer
// could not be had: a webhook that cannot decide refuses.
func Promote(ctx context.Context, az *authz.Authorizer, req admission.Request, stage, why string) *admission.Response {
	err := az.AuthorizePromote(ctx, req.UserInfo, req.Namespace, stage)
	if err == nil {
		return nil
	}
	var denied *authz.Denied
	if !errors.As(err, &denied) {
		resp := deny.Error(err)
		return &resp
	}
	msg := denied.Error()
	if why != "" {
		msg = why + ": " + msg
	}
	resp := deny.Forbidden(msg)
	return &resp
}

// Approve returns nil when req's user holds the approve verb on stage of
// req's namespace; otherwise a 403 whose message is why followed by the
// reason of the denial, or a 500 when the answer could not be had.
func Approve(ctx context.Context, az *authz.Authorizer, req admission.Request, stage, why string) *admission.Response {
	err := az.AuthorizeApprove(ctx, req.UserInfo, req.Namespace, stage)
	if err == nil {
		return nil
	}
	var denied *authz.ApproveDenied
	if !errors.As(err, &denied) {
		resp := deny.Error(err)
		return &resp
	}
	msg := denied.Error()
	if why != "" {
		msg = why + ": " + msg
	}
	resp := deny.Forbidden(msg)
	return &resp
}
