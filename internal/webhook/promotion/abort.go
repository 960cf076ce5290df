package promotion

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/webhook/admit"
)

// mutateUpdate keeps, in a change of a Promotion, what no user may choose:
// its creator (kargoapi.PromotionCreatedByAnnotationKey) stays what it was
// on creation, since approval policies discount the creator's own approval
// and notifications name them; and the abort annotation, once set, keeps
// its value, and when a change sets it, its value is the requesting user,
// whatever the request said.
func (m *Mutator) mutateUpdate(req admission.Request) admission.Response {
	old := &kargoapi.Promotion{}
	if err := m.Decode.DecodeRaw(req.OldObject, old); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the Promotion being changed: %w", err))
	}
	var doc map[string]any
	if err := json.Unmarshal(req.Object.Raw, &doc); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	annotations := annotationsOf(doc)
	var warnings []string
	keep := func(key, asked string) {
		before, had := annotations[key]
		switch v, ok := old.Annotations[key]; {
		case ok:
			annotations[key] = v
		case had && asked != "":
			annotations[key] = asked
		default:
			delete(annotations, key)
		}
		if now, has := annotations[key]; had != has || (has && now != before) {
			warnings = append(warnings, fmt.Sprintf("annotation %s is kargo's record of who did what, which kargo writes: it is %v", key, annotations[key]))
		}
	}
	keep(kargoapi.PromotionCreatedByAnnotationKey, "")
	keep(kargoapi.AbortAnnotationKey, req.UserInfo.Username)
	b, err := json.Marshal(doc)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, b).WithWarnings(warnings...)
}

// annotationsOf returns the annotations of a decoded object, adding the
// maps it lacks.
func annotationsOf(doc map[string]any) map[string]any {
	meta, _ := doc["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		doc["metadata"] = meta
	}
	annotations, _ := meta["annotations"].(map[string]any)
	if annotations == nil {
		annotations = map[string]any{}
		meta["annotations"] = annotations
	}
	return annotations
}

// validateUpdate lets only someone who may promote into the Promotion's
// Stage ask to abort it: aborting decides what (not) to promote there.
func (v *Validator) validateUpdate(ctx context.Context, req admission.Request) admission.Response {
	p, old := &kargoapi.Promotion{}, &kargoapi.Promotion{}
	if _, refusal := admit.Decode(v.Decode, req, "Promotion", p, old); refusal != nil {
		return *refusal
	}
	_, had := old.Annotations[kargoapi.AbortAnnotationKey]
	_, has := p.Annotations[kargoapi.AbortAnnotationKey]
	if !has || had {
		return admission.Allowed("")
	}
	if refusal := admit.Promote(ctx, v.Authz, req, p.Spec.Stage, "aborting a Promotion decides what is promoted into its Stage, so it needs the right to promote into it"); refusal != nil {
		return *refusal
	}
	return admission.Allowed("")
}
