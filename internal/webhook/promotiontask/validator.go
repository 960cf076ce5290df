// Package promotiontask holds the admission rules for PromotionTasks. A
// task's steps run in the Promotions of every Stage whose promotion
// process uses it, so a task is part of those Stages' specs: creating or
// changing one needs the promote verb on each Stage of the project that
// uses it, as changing those Stages would; and its steps are checked as a
// Stage's are. (ClusterPromotionTasks are cluster-scoped: none of kargo's
// roles lets a project's users write them.)
package promotiontask

import (
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
)

// Validator checks the creation and change of PromotionTasks.
type Validator struct {
	// Reader reads Stages and namespaces live: whose promote verb a change
	// needs must count a Stage created a moment before.
	Reader client.Reader
	Authz  *authz.Authorizer
	Decode admission.Decoder
}

// Handle checks the task's steps, then the right to promote into each
// Stage that uses it.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	t, old := &kargoapi.PromotionTask{}, &kargoapi.PromotionTask{}
	if resp := admit.ProjectWrite(ctx, v.Reader, v.Decode, req, "PromotionTask", t, old, func(t *kargoapi.PromotionTask) any { return t.Spec }); resp != nil {
		return *resp
	}
	problems := engine.ValidateProcess("spec", t.Spec.Vars, t.Spec.Steps, steps.Known)
	for i, s := range t.Spec.Steps {
		if s.Task != nil {
			problems = append(problems, fmt.Sprintf("spec.steps[%d].task: a task's steps use built-in steps, not other tasks", i))
		}
	}
	if len(problems) > 0 {
		return deny.Invalid(strings.Join(problems, "; "))
	}
	stages := &kargoapi.StageList{}
	if err := v.Reader.List(ctx, stages, client.InNamespace(req.Namespace)); err != nil {
		return deny.Error(fmt.Errorf("list Stages in %s: %w", req.Namespace, err))
	}
	for _, st := range stages.Items {
		if !uses(&st, t.Name) {
			continue
		}
		if refusal := admit.Promote(ctx, v.Authz, req, st.Name, fmt.Sprintf("Stage %s's promotion process uses PromotionTask %s, so changing the task changes what promotions into %s do", st.Name, t.Name, st.Name)); refusal != nil {
			return *refusal
		}
	}
	return admission.Allowed("")
}

// uses says whether st's promotion process uses the PromotionTask name.
func uses(st *kargoapi.Stage, name string) bool {
	if st.Spec.PromotionTemplate == nil {
		return false
	}
	for _, s := range st.Spec.PromotionTemplate.Spec.Steps {
		if s.Task != nil && s.Task.Name == name && (s.Task.Kind == "" || s.Task.Kind == "PromotionTask") {
			return true
		}
	}
	return false
}
