// Package freight holds the admission rules for Freight: its name is the
// fingerprint of its artifacts, its alias field and label stay in sync and
// are unique in a project, and Freight a Stage uses cannot be deleted.
package freight

import (
	"context"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	kargofreight "github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/webhook/deny"
	"github.com/kargohq/kargo/internal/webhook/project"
)

// SyncAlias applies the alias rules of the Working With Freight page to f:
// a non-empty alias field sets the label; an empty field takes the label's
// value. Clearing both removes the alias.
func SyncAlias(f *kargoapi.Freight) {
	label := f.Labels[kargoapi.AliasLabelKey]
	switch {
	case f.Alias != "":
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[kargoapi.AliasLabelKey] = f.Alias
	case label != "":
		f.Alias = label
	}
}

// Mutator keeps a Freight's alias field and label in sync on every create
// and update.
type Mutator struct {
	Decode admission.Decoder
}

// Handle returns the patch that syncs the alias, with a warning when the
// request changed only the label and the field overrode it: kubectl label
// would otherwise seem to have done nothing.
func (m *Mutator) Handle(_ context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	f := &kargoapi.Freight{}
	if err := m.Decode.Decode(req, f); err != nil {
		return deny.BadRequest(fmt.Errorf("decode Freight: %w", err))
	}
	askedLabel := f.Labels[kargoapi.AliasLabelKey]
	SyncAlias(f)
	synced, err := json.Marshal(f)
	if err != nil {
		return deny.Error(fmt.Errorf("encode Freight: %w", err))
	}
	resp := admission.PatchResponseFromRaw(req.Object.Raw, synced)
	if req.Operation == admissionv1.Update && askedLabel != "" && askedLabel != f.Alias {
		old := &kargoapi.Freight{}
		if err := m.Decode.DecodeRaw(req.OldObject, old); err == nil && old.Labels[kargoapi.AliasLabelKey] != askedLabel {
			resp.Warnings = append(resp.Warnings, fmt.Sprintf("label %s=%s was reset to %q: the alias field takes precedence over the label; change the alias field (kargo update freight --new-alias) instead",
				kargoapi.AliasLabelKey, askedLabel, f.Alias))
		}
	}
	return resp
}

// Validator checks the creation, change and deletion of Freight. It runs
// after Mutator, so label and field agree when it sees them.
type Validator struct {
	// Reader reads Freight, Stages, Promotions and namespaces live.
	Reader client.Reader
	Decode admission.Decoder
}

// Handle dispatches on the operation.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	switch req.Operation {
	case admissionv1.Create:
		if refusal := project.RequireProject(ctx, v.Reader, req); refusal != nil {
			return *refusal
		}
		f := &kargoapi.Freight{}
		if err := v.Decode.Decode(req, f); err != nil {
			return deny.BadRequest(fmt.Errorf("decode Freight: %w", err))
		}
		// The artifacts are immutable (the CRD schema says so), so a name
		// checked at creation stays true: nobody can slip another image
		// under a name that has been verified.
		if want := kargofreight.FingerprintOf(f); f.Name != want {
			return deny.Invalid(fmt.Sprintf("metadata.name: Freight %q is not named after its artifacts; Freight with these commits, images and charts must be named %q (the SHA-1 fingerprint described in docs/freight.md)", f.Name, want))
		}
		return v.uniqueAlias(ctx, f)
	case admissionv1.Update:
		f, old := &kargoapi.Freight{}, &kargoapi.Freight{}
		if err := v.Decode.Decode(req, f); err != nil {
			return deny.BadRequest(fmt.Errorf("decode Freight: %w", err))
		}
		if err := v.Decode.DecodeRaw(req.OldObject, old); err != nil {
			return deny.BadRequest(fmt.Errorf("decode the Freight being changed: %w", err))
		}
		if f.Labels[kargoapi.AliasLabelKey] == old.Labels[kargoapi.AliasLabelKey] {
			return admission.Allowed("")
		}
		return v.uniqueAlias(ctx, f)
	case admissionv1.Delete:
		return v.notInUse(ctx, req)
	}
	return admission.Allowed("")
}

// uniqueAlias refuses an alias another Freight of the project holds.
func (v *Validator) uniqueAlias(ctx context.Context, f *kargoapi.Freight) admission.Response {
	alias := f.Labels[kargoapi.AliasLabelKey]
	if alias == "" {
		return admission.Allowed("")
	}
	holders := &metav1.PartialObjectMetadataList{}
	holders.SetGroupVersionKind(kargoapi.GroupVersion.WithKind("FreightList"))
	if err := v.Reader.List(ctx, holders, client.InNamespace(f.Namespace), client.MatchingLabels{kargoapi.AliasLabelKey: alias}); err != nil {
		return deny.Error(fmt.Errorf("list Freight with alias %s: %w", alias, err))
	}
	for _, h := range holders.Items {
		if h.Name != f.Name {
			return deny.Conflict(fmt.Sprintf("alias %q is already held by Freight %s in project %q; aliases are unique in a project, so choose another one or first change that Freight's alias",
				alias, h.Name, f.Namespace))
		}
	}
	return admission.Allowed("")
}

// notInUse refuses to delete Freight that a Stage holds or that a Promotion
// is about to move, unless the whole project is being deleted.
func (v *Validator) notInUse(ctx context.Context, req admission.Request) admission.Response {
	ns := &corev1.Namespace{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Name: req.Namespace}, ns); err != nil {
		return deny.Error(fmt.Errorf("get namespace %s: %w", req.Namespace, err))
	}
	if ns.DeletionTimestamp != nil {
		return admission.Allowed("")
	}
	stages := &kargoapi.StageList{}
	if err := v.Reader.List(ctx, stages, client.InNamespace(req.Namespace)); err != nil {
		return deny.Error(fmt.Errorf("list Stages in %s: %w", req.Namespace, err))
	}
	for _, s := range stages.Items {
		if s.Status.CurrentFreight != nil && s.Status.CurrentFreight.ID == req.Name {
			return deny.Conflict(fmt.Sprintf("Freight %s is in use: it is the current Freight of Stage %q; promote other Freight to %s before deleting it", req.Name, s.Name, s.Name))
		}
	}
	promotions := &kargoapi.PromotionList{}
	if err := v.Reader.List(ctx, promotions, client.InNamespace(req.Namespace)); err != nil {
		return deny.Error(fmt.Errorf("list Promotions in %s: %w", req.Namespace, err))
	}
	for _, p := range promotions.Items {
		if p.Spec.Freight == req.Name && !p.Status.Phase.IsTerminal() {
			return deny.Conflict(fmt.Sprintf("Freight %s is in use: Promotion %q is moving it to Stage %q; wait for it to end before deleting the Freight", req.Name, p.Name, p.Spec.Stage))
		}
	}
	return admission.Allowed("")
}
