// Package analysisrun guards the AnalysisRuns of kargo's verifications.
// Argo Rollouts' AnalysisRun has no status subresource, so whoever may
// update one may write its result, and a run kargo created for a Stage
// decides whether Freight is verified there (and so whether it moves on,
// perhaps by auto-promotion, to the next Stage). Argo Rollouts' install
// gives the cluster's edit and admin roles that right. So a run kargo
// owns (labelled with its Stage, or owned by a Stage) may be created or
// changed only by kargo's controller and by Argo Rollouts' controller,
// which runs it. Deleting one is left to RBAC: a deleted run verifies
// nothing.
package analysisrun

import (
	"context"
	"fmt"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
)

// DefaultWriter is the identity of Argo Rollouts' controller in its
// default installation.
const DefaultWriter = "system:serviceaccount:argo-rollouts:argo-rollouts"

// Validator checks the creation and change of AnalysisRuns.
type Validator struct {
	Decode admission.Decoder
	// Controller is the username of kargo's controller.
	Controller string
	// Writers are the usernames of Argo Rollouts' controller.
	Writers []string
}

// Handle lets kargo's controller and Argo Rollouts write kargo's runs,
// refuses everyone else, and leaves AnalysisRuns that are not kargo's
// alone.
func (v *Validator) Handle(_ context.Context, req admission.Request) admission.Response {
	user := req.UserInfo.Username
	if user == v.Controller || slices.Contains(v.Writers, user) {
		return admission.Allowed("")
	}
	run, old := &unstructured.Unstructured{}, &unstructured.Unstructured{}
	changed, refusal := admit.Decode(v.Decode, req, "AnalysisRun", run, old)
	if refusal != nil {
		return *refusal
	}
	stage := kargosStage(run)
	if stage == "" && changed {
		stage = kargosStage(old)
	}
	if stage == "" {
		return admission.Allowed("")
	}
	verb := "create"
	if req.Operation == admissionv1.Update {
		verb = "change"
	}
	return deny.Forbidden(fmt.Sprintf("AnalysisRun %s is the verification of Stage %s: its result decides whether Freight is verified there, so only kargo's controller and Argo Rollouts (%s) may %s it; to stop it, run `kargo verify stage %s --abort`",
		run.GetName(), stage, strings.Join(v.Writers, ", "), verb, stage))
}

// kargosStage returns the Stage a run belongs to when kargo made it (its
// label) or when it claims a Stage as owner, and "" otherwise.
func kargosStage(run *unstructured.Unstructured) string {
	if s := run.GetLabels()[kargoapi.StageLabelKey]; s != "" {
		return s
	}
	for _, o := range run.GetOwnerReferences() {
		if o.Kind == "Stage" && strings.HasPrefix(o.APIVersion, kargoapi.GroupVersion.Group+"/") {
			return o.Name
		}
	}
	return ""
}
