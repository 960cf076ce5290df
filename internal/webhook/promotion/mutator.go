package promotion

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/webhook/deny"
)

// Mutator writes, into a Promotion being created, what no user may choose:
// who created it (kargoapi.PromotionCreatedByAnnotationKey, from the
// request, kept as it is by every later change), and the promotion process it runs, copied from its Stage's
// promotionTemplate with PromotionTasks expanded. A process in the request
// is replaced: the promote verb lets a user move Freight into a Stage the
// Stage's way, not run steps of their own with the controller's rights.
type Mutator struct {
	// Reader reads Stages and PromotionTasks live.
	Reader client.Reader
	Decode admission.Decoder
}

// Handle fills in the Promotion. It edits the request's own JSON, so that
// fields the request left out stay out (the schema then says what is
// missing).
func (m *Mutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation == admissionv1.Update {
		return m.mutateUpdate(req)
	}
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	p := &kargoapi.Promotion{}
	if err := m.Decode.Decode(req, p); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(req.Object.Raw, &doc); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	annotations := annotationsOf(doc)
	annotations[kargoapi.PromotionCreatedByAnnotationKey] = req.UserInfo.Username
	// Aborting is a change of an existing Promotion (mutateUpdate).
	delete(annotations, kargoapi.AbortAnnotationKey)
	spec, _ := doc["spec"].(map[string]any)
	if spec != nil {
		delete(spec, "vars")
		delete(spec, "steps")
	}
	if spec != nil && p.Spec.Stage != "" {
		st := &kargoapi.Stage{}
		switch err := m.Reader.Get(ctx, client.ObjectKey{Namespace: req.Namespace, Name: p.Spec.Stage}, st); {
		case apierrors.IsNotFound(err):
			// The validating webhook refuses it, after checking the right
			// to promote (which must come first).
		case err != nil:
			return deny.Error(fmt.Errorf("get Stage %s: %w", p.Spec.Stage, err))
		default:
			proc, err := engine.ProcessOf(ctx, m.Reader, st)
			if err != nil {
				return deny.Invalid(fmt.Sprintf("Stage %s's promotionTemplate: %v", st.Name, err))
			}
			if len(proc.Vars) > 0 {
				spec["vars"] = proc.Vars
			}
			if len(proc.Steps) > 0 {
				spec["steps"] = proc.Steps
			}
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, b)
}
