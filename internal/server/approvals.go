package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/approval"
	"github.com/kargohq/kargo/internal/authz"
)

// maxApproveAttempts bounds the retries of an approval that races with
// other writes of the Freight's status.
const maxApproveAttempts = 5

// maxCommentLength is the longest comment an approval keeps.
const maxCommentLength = 1024

// checkApprove returns nil when u holds the approve verb on the Stage, an
// *authz.ApproveDenied when not.
func (a *authorizer) checkApprove(ctx context.Context, u authenticationv1.UserInfo, namespace, stage string) error {
	acc := kargoAccess(kargoapi.ApproveVerb, "stages", namespace, stage)
	return a.remembered(cacheKey(u, acc), func() (error, error) {
		err := a.promote.AuthorizeApprove(ctx, u, namespace, stage)
		var denied *authz.ApproveDenied
		if errors.As(err, &denied) {
			return err, nil
		}
		return nil, err
	})
}

// approve approves the Freight for the Stage, in the one or two ways the
// caller's rights allow, each asked as the caller: with the promote verb
// the Freight becomes available to the Stage without passing through the
// Stages upstream (the seed's approval, status.approvedFor); with the
// approve verb the caller's approval, with their groups, the time and
// their comment, joins those the Stage's approval policies count
// (status.approvals). No user role may write Freight status, so the server
// writes both with its own identity after checking; who approved is who
// the server authenticated, never something the request says.
func (s *Server) approve(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, ref := r.PathValue("project"), r.PathValue("name")
	var req apitypes.ApproveRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Stage == "" {
		return badRequest("say which Stage to approve the Freight for with stage")
	}
	if len(req.Comment) > maxCommentLength {
		return badRequest("the comment has %d characters; at most %d are kept", len(req.Comment), maxCommentLength)
	}
	note := noteOf(ctx)
	note.target.Stage = req.Stage
	note.detail("comment", req.Comment)
	promoteErr := s.authz.checkPromote(ctx, u, project, req.Stage)
	approveErr := s.authz.checkApprove(ctx, u, project, req.Stage)
	var pd *authz.Denied
	var ad *authz.ApproveDenied
	switch {
	case promoteErr != nil && !errors.As(promoteErr, &pd):
		return promoteErr
	case approveErr != nil && !errors.As(approveErr, &ad):
		return approveErr
	case promoteErr != nil && approveErr != nil:
		return s.approveRefusal(ctx, u, project, req.Stage, pd, ad)
	}
	if _, err := s.read(ctx, stageKind, project, req.Stage); err != nil {
		return s.orMissingProject(ctx, project, err)
	}
	f, err := s.resolveFreight(ctx, project, ref)
	if err != nil {
		return err
	}
	note.target.Name, note.target.Freight = f.Name, f.Name
	if approveErr == nil {
		// An approval counts only for a Stage that asks for approvals
		// now; for another, the approve verb alone has nothing to record.
		asks, err := s.asksForApprovals(ctx, project, req.Stage)
		if err != nil {
			return err
		}
		if !asks {
			if promoteErr != nil {
				return newError(http.StatusConflict, metav1.StatusReasonConflict,
					"Stage %q asks for no approvals (neither its spec.approval nor an ApprovalPolicy of project %q selects it), so there is nothing to approve: approving Freight to skip the Stages upstream needs the promote verb", req.Stage, project)
			}
			approveErr = errNothingToApprove
		}
	}
	var recorded []string
	if promoteErr == nil {
		recorded = append(recorded, "approvedFor")
	}
	if approveErr == nil {
		recorded = append(recorded, "approval")
	}
	note.detail("recorded", strings.Join(recorded, ","))
	written, err := s.recordApproval(context.WithoutCancel(ctx), f, u, req, promoteErr == nil, approveErr == nil)
	if err != nil {
		return err
	}
	s.awaitCache(ctx, written)
	return s.answerFreight(ctx, w, u, written, ref, req.Stage)
}

// approveRefusal is the answer to a caller who holds neither verb. For a
// Stage that asks for no approvals it is the refusal of the seed's
// approval, which the promote verb allows; for one that asks, and that
// the caller may read, it names the approve verb first. Whether a Stage
// asks is told only to whoever may read it.
func (s *Server) approveRefusal(ctx context.Context, u authenticationv1.UserInfo, project, stage string, pd *authz.Denied, ad *authz.ApproveDenied) error {
	if ok, err := s.mayGet(ctx, u, stageKind, project, stage); err != nil || !ok {
		return pd
	}
	if asks, err := s.asksForApprovals(ctx, project, stage); err != nil || !asks {
		return pd
	}
	return newError(http.StatusForbidden, metav1.StatusReasonForbidden,
		"%s; or, to let Freight skip the Stages upstream, %s", ad.Error(), pd.Error())
}

// errNothingToApprove stands for the approve verb of a caller approving
// for a Stage that asks for no approvals.
var errNothingToApprove = errors.New("the Stage asks for no approvals")

// asksForApprovals says whether the Stage has approval requirements now:
// its own spec.approval, or an ApprovalPolicy that selects it.
func (s *Server) asksForApprovals(ctx context.Context, project, stage string) (bool, error) {
	obj, err := s.read(ctx, stageKind, project, stage)
	if err != nil {
		return false, s.orMissingProject(ctx, project, err)
	}
	policies := &kargoapi.ApprovalPolicyList{}
	if err := s.cache.List(ctx, policies, client.InNamespace(project)); err != nil {
		return false, fmt.Errorf("list ApprovalPolicies of %s: %w", project, err)
	}
	return len(approval.Requirements(obj.(*kargoapi.Stage), policies.Items)) > 0, nil
}

// recordApproval writes the approvals into the live Freight's status with
// an optimistic lock, so that two approvers who approve at once both count.
func (s *Server) recordApproval(ctx context.Context, f *kargoapi.Freight, u authenticationv1.UserInfo, req apitypes.ApproveRequest, skip, signOff bool) (*kargoapi.Freight, error) {
	key := client.ObjectKeyFromObject(f)
	for attempt := 1; ; attempt++ {
		live := &kargoapi.Freight{}
		if err := s.direct.Get(ctx, key, live); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, notFoundIn(freightKind, f.Namespace, f.Name)
			}
			return nil, fmt.Errorf("read Freight %s: %w", f.Name, err)
		}
		base := live.DeepCopy()
		now := metav1.NewTime(time.Now().UTC())
		changed := false
		if _, ok := live.Status.ApprovedFor[req.Stage]; skip && !ok {
			if live.Status.ApprovedFor == nil {
				live.Status.ApprovedFor = map[string]kargoapi.ApprovedStage{}
			}
			live.Status.ApprovedFor[req.Stage] = kargoapi.ApprovedStage{ApprovedBy: u.Username, ApprovedAt: &now}
			changed = true
		}
		if signOff {
			if live.Status.Approvals == nil {
				live.Status.Approvals = map[string][]kargoapi.FreightApproval{}
			}
			live.Status.Approvals[req.Stage] = addApproval(live.Status.Approvals[req.Stage], kargoapi.FreightApproval{
				User: u.Username, Groups: slices.Clone(u.Groups), At: now, Comment: req.Comment,
			})
			changed = true
		}
		if !changed {
			return live, nil
		}
		err := s.direct.Status().Patch(ctx, live, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
		switch {
		case err == nil:
			return live, nil
		case apierrors.IsNotFound(err):
			return nil, notFoundIn(freightKind, f.Namespace, f.Name)
		case !apierrors.IsConflict(err) || attempt == maxApproveAttempts:
			return nil, fmt.Errorf("approve Freight %s for Stage %s: %w", f.Name, req.Stage, err)
		}
	}
}

// addApproval adds a to the approvals of one Stage: an approver who
// approves again replaces their earlier approval (a fresh time, a new
// comment), and past kargoapi.MaxApprovalsPerStage the oldest goes.
func addApproval(list []kargoapi.FreightApproval, a kargoapi.FreightApproval) []kargoapi.FreightApproval {
	out := make([]kargoapi.FreightApproval, 0, len(list)+1)
	for _, old := range list {
		if old.User != a.User {
			out = append(out, old)
		}
	}
	out = append(out, a)
	if len(out) > kargoapi.MaxApprovalsPerStage {
		out = out[len(out)-kargoapi.MaxApprovalsPerStage:]
	}
	return out
}

// abortPromotion asks the Promotion to stop at its next safe point. It
// patches the abort annotation as the caller: RBAC's patch on the
// Promotion, and kargo's webhooks, which let only someone who may promote
// into its Stage set it and record who did, judge it as they would judge
// kubectl. The promote verb is asked here first too, for a clear refusal
// before anything else is said about the Promotion.
func (s *Server) abortPromotion(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	var req apitypes.AbortRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if err := s.authz.check(ctx, u, kargoAccess("get", promotionKind.resource, project, name)); err != nil {
		return err
	}
	obj, err := s.read(ctx, promotionKind, project, name)
	if err != nil {
		return s.orMissingProject(ctx, project, err)
	}
	p := obj.(*kargoapi.Promotion)
	note := noteOf(ctx)
	note.target.Stage, note.target.Freight = p.Spec.Stage, p.Spec.Freight
	if err := s.authz.checkPromote(ctx, u, project, p.Spec.Stage); err != nil {
		return err
	}
	if p.Status.Phase.IsTerminal() {
		return newError(http.StatusConflict, metav1.StatusReasonConflict,
			"Promotion %q has ended (%s); only a Promotion that is Pending or Running can be aborted", name, p.Status.Phase)
	}
	c, _, err := s.impersonating(u)
	if err != nil {
		return err
	}
	live := &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name}}
	// The webhook writes the value (who asked); the request's is a
	// placeholder.
	raw := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, kargoapi.AbortAnnotationKey, u.Username)
	if err := c.Patch(context.WithoutCancel(ctx), live, client.RawPatch("application/merge-patch+json", raw)); err != nil {
		if apierrors.IsNotFound(err) {
			return notFoundIn(promotionKind, project, name)
		}
		return err
	}
	s.awaitCache(ctx, live)
	return writeObject(w, http.StatusOK, live, promotionKind)
}
