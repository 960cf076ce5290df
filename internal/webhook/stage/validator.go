// Package stage holds the admission rules for Stages. A Stage's spec is the
// program kargo's controller runs, with its own rights, on the Stage's
// behalf: its promotion mechanisms say what is committed and which Argo CD
// Applications change, its subscriptions say which Freight arrives (and is
// auto-promoted), and its verification says what counts as verified there
// and which Secrets are sent where. So:
//
//   - creating a Stage, or changing its spec, needs the promote verb on it;
//   - every Secret the spec names must be one the requesting user may read,
//     checked again whenever the verification that sends it changes;
//   - no two Stages write the same branch of the same repository;
//   - a change of the approvals the Stage asks for (spec.approval, or labels
//     that take it out of an ApprovalPolicy) needs the approve verb too
//     (approval.go).
//
// Changes that leave the spec alone (labels, annotations, finalizers, the
// controller's and the API server's own bookkeeping) are not checked.
package stage

import (
	"context"
	"errors"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/webhook/admit"
	"github.com/kargohq/kargo/internal/webhook/deny"
)

// Validator checks the creation and change of Stages.
type Validator struct {
	// Reader reads namespaces live.
	Reader client.Reader
	// Stages lists the Stages of every project, from the controller's
	// cache: a live list of every Stage on each write would cost more than
	// the rest of the webhook together, and a Stage the cache has not seen
	// yet is as good as one created in the same instant, which the
	// promotion controller settles (see writeTargetsFree).
	Stages client.Reader
	// Authz asks whether the requesting user may promote and read Secrets.
	Authz  *authz.Authorizer
	Decode admission.Decoder
}

// Handle runs the checks in an order that tells a user nothing they may
// not know: the right to promote first, then the Secrets, and only then
// whether another Stage writes the same branch.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if resp := v.approvalGuard(ctx, req); resp != nil {
		return *resp
	}
	st, old := &kargoapi.Stage{}, &kargoapi.Stage{}
	if resp := admit.ProjectWrite(ctx, v.Reader, v.Decode, req, "Stage", st, old, func(s *kargoapi.Stage) any { return s.Spec }); resp != nil {
		return *resp
	}
	changed := req.Operation == admissionv1.Update
	if t := st.Spec.PromotionTemplate; t != nil {
		problems := engine.ValidateVars("spec.vars", st.Spec.Vars)
		problems = append(problems, engine.ValidateProcess("spec.promotionTemplate.spec", t.Spec.Vars, t.Spec.Steps, steps.Known)...)
		if len(problems) > 0 {
			return deny.Invalid(strings.Join(problems, "; "))
		}
	}
	if refusal := admit.Promote(ctx, v.Authz, req, st.Name, "a Stage's spec decides what kargo commits and which Applications it changes for the Stage, which Freight reaches it and what counts as verified there, so creating a Stage or changing its spec needs the right to promote into it"); refusal != nil {
		return *refusal
	}
	if !changed || !equality.Semantic.DeepEqual(old.Spec.Verification, st.Spec.Verification) {
		if resp := v.secretsReadable(ctx, req, st); resp != nil {
			return *resp
		}
	}
	if !changed || !equality.Semantic.DeepEqual(old.Spec.PromotionMechanisms, st.Spec.PromotionMechanisms) {
		if resp := v.writeTargetsFree(ctx, st); resp != nil {
			return *resp
		}
	}
	return admission.Allowed("")
}

// SecretRef is one place in a Stage's spec that names a Secret.
type SecretRef struct {
	// Field is the path of the reference, such as
	// spec.verification.http[0].headers[1].valueFrom.
	Field string
	// Secret is the Secret's name, in the Stage's namespace.
	Secret string
	// SentTo says where the controller sends what it reads.
	SentTo string
}

// SecretRefs lists every Secret st's spec names, in spec order. It is the
// one list of them: a new field that names a Secret belongs here, so that
// the webhook checks it.
func SecretRefs(st *kargoapi.Stage) []SecretRef {
	var refs []SecretRef
	if st.Spec.Verification == nil {
		return nil
	}
	for i, c := range st.Spec.Verification.HTTP {
		for j, h := range c.Headers {
			if h.ValueFrom == nil {
				continue
			}
			refs = append(refs, SecretRef{
				Field:  fmt.Sprintf("spec.verification.http[%d].headers[%d].valueFrom", i, j),
				Secret: h.ValueFrom.Name,
				SentTo: fmt.Sprintf("header %s of HTTP check %q", h.Name, c.Name),
			})
		}
	}
	return refs
}

// secretsReadable refuses a spec that names a Secret the requesting user
// may not read. Every reference is checked, not only new ones: a change of
// URL, method or header name redirects a Secret someone else named.
func (v *Validator) secretsReadable(ctx context.Context, req admission.Request, st *kargoapi.Stage) *admission.Response {
	checked := map[string]bool{}
	for _, ref := range SecretRefs(st) {
		if checked[ref.Secret] {
			continue
		}
		checked[ref.Secret] = true
		err := v.Authz.AuthorizeSecretRead(ctx, req.UserInfo, req.Namespace, ref.Secret)
		var denied *authz.SecretDenied
		switch {
		case errors.As(err, &denied):
			resp := deny.Forbidden(fmt.Sprintf("%s names Secret %q, which kargo's controller reads with its own rights and sends as %s, so a spec that names it needs the right to read it yourself: %s",
				ref.Field, ref.Secret, ref.SentTo, denied.Error()))
			return &resp
		case err != nil:
			resp := deny.Error(err)
			return &resp
		}
	}
	return nil
}

// WriteTarget is one branch of one repository a Stage commits to.
type WriteTarget struct {
	RepoURL, Branch string
}

// WriteTargets lists the branches st's gitRepoUpdates commit to.
func WriteTargets(st *kargoapi.Stage) []WriteTarget {
	if st.Spec.PromotionMechanisms == nil {
		return nil
	}
	var out []WriteTarget
	for _, u := range st.Spec.PromotionMechanisms.GitRepoUpdates {
		out = append(out, WriteTarget{RepoURL: string(u.RepoURL), Branch: string(u.WriteBranch)})
	}
	return out
}

// SameTarget says whether a and b are the same branch of the same
// repository, however the repository is spelled.
func SameTarget(a, b WriteTarget) bool {
	return a.Branch == b.Branch && repourl.Same(a.RepoURL, b.RepoURL)
}

// writeTargetsFree refuses a Stage that would write a branch another Stage
// writes, in any project: each would overwrite what the other promoted, and
// whoever may promote into one would change what runs in the other. The
// other Stage is named only when it is in the same project.
//
// Two requests that race past this check are settled when they promote:
// internal/promote lets only the older of two such Stages write.
func (v *Validator) writeTargetsFree(ctx context.Context, st *kargoapi.Stage) *admission.Response {
	mine := WriteTargets(st)
	if len(mine) == 0 {
		return nil
	}
	stages := &kargoapi.StageList{}
	if err := v.Stages.List(ctx, stages); err != nil {
		resp := deny.Error(fmt.Errorf("list Stages: %w", err))
		return &resp
	}
	for i := range stages.Items {
		other := &stages.Items[i]
		if other.Namespace == st.Namespace && other.Name == st.Name {
			continue
		}
		for _, theirs := range WriteTargets(other) {
			for _, t := range mine {
				if !SameTarget(t, theirs) {
					continue
				}
				holder := "a Stage of another project"
				if other.Namespace == st.Namespace {
					holder = fmt.Sprintf("Stage %q", other.Name)
				}
				resp := deny.Conflict(fmt.Sprintf("%s already writes branch %q of %s; two Stages never write one branch, since each would overwrite what the other promoted: write Stage %q to a branch of its own, such as stages/%s",
					holder, t.Branch, t.RepoURL, st.Name, st.Name))
				return &resp
			}
		}
	}
	return nil
}
