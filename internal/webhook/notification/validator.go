// Package notification holds the admission rules for
// NotificationSubscriptions. A subscription makes kargo's controller read
// Secrets of the project with its own rights and send what it reads (a
// Slack or Teams webhook URL, which is a credential, or a key that signs
// requests to a URL the author chooses). So every Secret a subscription
// names must be one its author may read, checked whenever the spec changes:
// a change of URL alone redirects a Secret someone else named.
package notification

import (
	"context"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
	"github.com/kargohq/kargo/internal/webhook/project"
)

// Validator checks the creation and change of NotificationSubscriptions.
type Validator struct {
	// Reader reads namespaces live.
	Reader client.Reader
	// Authz asks whether the requesting user may read Secrets.
	Authz  *authz.Authorizer
	Decode admission.Decoder
}

// SecretRef is one place in a subscription's spec that names a Secret.
type SecretRef struct {
	// Field is the path of the reference, such as spec.slack.urlFrom.
	Field string
	// Secret is the Secret's name, in the subscription's namespace.
	Secret string
	// SentTo says where the controller sends what it reads.
	SentTo string
}

// SecretRefs lists every Secret the spec names. It is the one list of
// them: a new field that names a Secret belongs here, so that the webhook
// checks it.
func SecretRefs(spec kargoapi.NotificationSubscriptionSpec) []SecretRef {
	var refs []SecretRef
	if w := spec.Webhook; w != nil && w.SigningSecret != nil {
		refs = append(refs, SecretRef{Field: "spec.webhook.signingSecret", Secret: w.SigningSecret.Name, SentTo: "the key that signs requests to " + w.URL})
	}
	if s := spec.Slack; s != nil {
		refs = append(refs, SecretRef{Field: "spec.slack.urlFrom", Secret: s.URLFrom.Name, SentTo: "the URL events are sent to"})
	}
	if s := spec.Teams; s != nil {
		refs = append(refs, SecretRef{Field: "spec.teams.urlFrom", Secret: s.URLFrom.Name, SentTo: "the URL events are sent to"})
	}
	return refs
}

// Handle refuses a subscription outside a project, and one whose spec
// names a Secret the requesting user may not read.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if refusal := project.RequireProject(ctx, v.Reader, req); refusal != nil {
		return *refusal
	}
	sub, old := &kargoapi.NotificationSubscription{}, &kargoapi.NotificationSubscription{}
	changed, refusal := admit.Decode(v.Decode, req, "NotificationSubscription", sub, old)
	if refusal != nil {
		return *refusal
	}
	if changed && equality.Semantic.DeepEqual(old.Spec, sub.Spec) {
		return admission.Allowed("")
	}
	checked := map[string]bool{}
	for _, ref := range SecretRefs(sub.Spec) {
		if checked[ref.Secret] {
			continue
		}
		checked[ref.Secret] = true
		err := v.Authz.AuthorizeSecretRead(ctx, req.UserInfo, req.Namespace, ref.Secret)
		var denied *authz.SecretDenied
		switch {
		case errors.As(err, &denied):
			return deny.Forbidden(fmt.Sprintf("%s names Secret %q, which kargo's controller reads with its own rights and uses as %s, so a subscription that names it needs the right to read it yourself: %s",
				ref.Field, ref.Secret, ref.SentTo, denied.Error()))
		case err != nil:
			return deny.Error(err)
		}
	}
	return admission.Allowed("")
}
