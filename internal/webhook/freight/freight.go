// Package freight holds the admission rules for Freight: its name is the
// fingerprint of its artifacts, its alias field and label stay in sync and
// are unique in a project, who created it and when are recorded at
// admission and never change, and Freight a Stage uses cannot be deleted.
package freight

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/collection"
	kargofreight "github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/webhook/admit"
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

// Record stamps on f, being created, what only admission knows and no
// request may choose: who creates it (controller says whether that is
// kargo's controller) and when, with nanoseconds, in the discovered-at
// annotation that orders Freight created in the same second.
func Record(f *kargoapi.Freight, user string, controller bool, now time.Time) {
	f.CreatedBy = &kargoapi.FreightCreator{Username: user, Controller: controller}
	if f.Annotations == nil {
		f.Annotations = map[string]string{}
	}
	f.Annotations[kargoapi.DiscoveredAtAnnotationKey] = now.UTC().Format(time.RFC3339Nano)
}

// KeepRecord puts back on f, being changed, the record of its creation that
// old holds (createdBy and the discovered-at annotation), and returns a
// warning for each part the change tried to alter.
func KeepRecord(f, old *kargoapi.Freight) []string {
	var warnings []string
	for _, part := range recordChanges(f, old) {
		warnings = append(warnings, part+" was kept as it was: kargo records it when a Freight is created, and nobody can change it")
	}
	f.CreatedBy = old.CreatedBy.DeepCopy()
	if was, had := old.Annotations[kargoapi.DiscoveredAtAnnotationKey]; had {
		if f.Annotations == nil {
			f.Annotations = map[string]string{}
		}
		f.Annotations[kargoapi.DiscoveredAtAnnotationKey] = was
	} else {
		delete(f.Annotations, kargoapi.DiscoveredAtAnnotationKey)
	}
	return warnings
}

// recordChanges names the parts of old's creation record that f changes.
func recordChanges(f, old *kargoapi.Freight) []string {
	var parts []string
	if !equality.Semantic.DeepEqual(f.CreatedBy, old.CreatedBy) {
		parts = append(parts, "createdBy")
	}
	was, had := old.Annotations[kargoapi.DiscoveredAtAnnotationKey]
	if now, has := f.Annotations[kargoapi.DiscoveredAtAnnotationKey]; has != had || now != was {
		parts = append(parts, "annotation "+kargoapi.DiscoveredAtAnnotationKey)
	}
	return parts
}

// Mutator keeps a Freight's alias field and label in sync on every create
// and update, records who creates each Freight and when, and keeps that
// record unchanged afterwards.
type Mutator struct {
	Decode admission.Decoder
	// Controller is the username of kargo's controller, whose Freight is
	// marked as produced by it (createdBy.controller) and so may be
	// auto-promoted. Empty marks no Freight so.
	Controller string
	// Now tells the time; time.Now when nil.
	Now func() time.Time
}

// Handle returns the patch that syncs the alias and stamps or keeps the
// creation record, with a warning when the request changed only the label
// and the field overrode it (kubectl label would otherwise seem to have done
// nothing), or tried to change the record.
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
	// Refused here, before the schema's checks, with one sentence: an
	// invalid alias would otherwise be refused twice, as the alias and as
	// the label it becomes, the label's refusal quoting a regular
	// expression.
	if f.Alias != "" {
		if err := kargofreight.CheckAlias(f.Alias); err != nil {
			return deny.Invalid(err.Error())
		}
	}
	var warnings []string
	old := &kargoapi.Freight{}
	switch req.Operation {
	case admissionv1.Create:
		if asked := f.CreatedBy; asked != nil && (asked.Username != req.UserInfo.Username || asked.Controller != m.isController(req.UserInfo.Username)) {
			warnings = append(warnings, fmt.Sprintf("createdBy was set to %q: kargo records who created a Freight from the request's authenticated user", req.UserInfo.Username))
		}
		now := time.Now
		if m.Now != nil {
			now = m.Now
		}
		Record(f, req.UserInfo.Username, m.isController(req.UserInfo.Username), now())
	case admissionv1.Update:
		if err := m.Decode.DecodeRaw(req.OldObject, old); err != nil {
			return deny.BadRequest(fmt.Errorf("decode the Freight being changed: %w", err))
		}
		warnings = KeepRecord(f, old)
	}
	synced, err := json.Marshal(f)
	if err != nil {
		return deny.Error(fmt.Errorf("encode Freight: %w", err))
	}
	resp := admission.PatchResponseFromRaw(req.Object.Raw, synced)
	if req.Operation == admissionv1.Update && askedLabel != "" && askedLabel != f.Alias && old.Labels[kargoapi.AliasLabelKey] != askedLabel {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("label %s=%s was reset to %q: the alias field takes precedence over the label; change the alias field (kargo update freight --new-alias) instead",
			kargoapi.AliasLabelKey, askedLabel, f.Alias))
	}
	resp.Warnings = append(resp.Warnings, warnings...)
	return resp
}

func (m *Mutator) isController(user string) bool {
	return m.Controller != "" && user == m.Controller
}

// Validator checks the creation, change and deletion of Freight. It runs
// after Mutator, so label and field agree when it sees them, and the
// creation record is the one Mutator stamped or kept, unless a mutating
// webhook of someone else's changed it afterwards, which it refuses.
type Validator struct {
	// Reader reads Freight, Stages, Promotions and namespaces live.
	Reader client.Reader
	Decode admission.Decoder
	// Controller is the username of kargo's controller, as in Mutator.
	Controller string
	// Claims keep two Freight admitted at once from taking one alias; nil
	// checks only the Freight already stored.
	Claims *AliasClaims
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
		controller := v.Controller != "" && req.UserInfo.Username == v.Controller
		if c := f.CreatedBy; c == nil || c.Username != req.UserInfo.Username || c.Controller != controller {
			return deny.Forbidden(fmt.Sprintf("createdBy: must be %q, the user creating the Freight, as kargo's mutating webhook records it; another webhook changed it", req.UserInfo.Username))
		}
		if !controller {
			if refusal := v.discoveredOnly(ctx, f); refusal != nil {
				return *refusal
			}
		}
		return v.uniqueAlias(ctx, f)
	case admissionv1.Update:
		f, old := &kargoapi.Freight{}, &kargoapi.Freight{}
		if _, refusal := admit.Decode(v.Decode, req, "Freight", f, old); refusal != nil {
			return *refusal
		}
		if changed := recordChanges(f, old); len(changed) > 0 {
			return deny.Forbidden(strings.Join(changed, " and ") + ": kargo records it when a Freight is created, and nobody can change it; a webhook other than kargo's changed it")
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

// discoveredOnly refuses Freight that a person creates for a Warehouse
// whose freightCreationPolicy is Manual unless every artifact is one the
// Warehouse discovered (status.discoveredArtifacts), at most one per
// repository. Freight for other Warehouses is as it always was: never
// auto-promoted, promoted only by someone who may promote and chooses it.
func (v *Validator) discoveredOnly(ctx context.Context, f *kargoapi.Freight) *admission.Response {
	if f.Origin == nil || f.Origin.Kind != kargoapi.FreightOriginWarehouse {
		return nil
	}
	wh := &kargoapi.Warehouse{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Namespace: f.Namespace, Name: f.Origin.Name}, wh); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		r := deny.Error(fmt.Errorf("get Warehouse %s: %w", f.Origin.Name, err))
		return &r
	}
	if wh.Spec.FreightCreationPolicy != kargoapi.FreightCreationManual {
		return nil
	}
	if problems := kargofreight.Undiscovered(f, wh.Status.DiscoveredArtifacts); len(problems) > 0 {
		r := deny.Forbidden(fmt.Sprintf("Freight for Warehouse %q (freightCreationPolicy Manual) may only use artifacts it discovered: %s; see kargo get warehouse %s -o yaml (status.discoveredArtifacts), or refresh it",
			wh.Name, strings.Join(problems, "; "), wh.Name))
		return &r
	}
	return nil
}

// uniqueAlias refuses an alias another Freight of the project holds.
func (v *Validator) uniqueAlias(ctx context.Context, f *kargoapi.Freight) admission.Response {
	alias := f.Labels[kargoapi.AliasLabelKey]
	if alias == "" {
		return admission.Allowed("")
	}
	holder, err := v.Claims.check(f.Namespace, alias, f.Name, func() (string, error) {
		holders := &metav1.PartialObjectMetadataList{}
		holders.SetGroupVersionKind(kargoapi.GroupVersion.WithKind("FreightList"))
		if err := v.Reader.List(ctx, holders, client.InNamespace(f.Namespace), client.MatchingLabels{kargoapi.AliasLabelKey: alias}); err != nil {
			return "", fmt.Errorf("list Freight with alias %s: %w", alias, err)
		}
		for _, h := range holders.Items {
			if h.Name != f.Name {
				return h.Name, nil
			}
		}
		return "", nil
	})
	if err != nil {
		return deny.Error(err)
	}
	if holder != "" {
		return deny.Conflict(fmt.Sprintf("alias %q is already held by Freight %s in project %q; aliases are unique in a project, so choose another one or first change that Freight's alias",
			alias, holder, f.Namespace))
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
		if collection.Holds(&s, req.Name) {
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
