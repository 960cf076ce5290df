package server

import (
	"context"
	"fmt"
	"net/http"

	"golang.org/x/sync/errgroup"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/authz"
)

const (
	// maxAccessStages bounds the Stages one access question names: each
	// costs the Kubernetes API server a review.
	maxAccessStages = 200
	// accessParallelism bounds the reviews of one question in flight.
	accessParallelism = 8
)

// getAccess answers what the caller may do in the project: promote to and
// approve for each Stage of the query, and rename Freight. Each answer is a
// SelfSubjectAccessReview made as the caller (impersonated, as the actions
// act), so that nobody learns through it anything about anyone but
// themselves, which Kubernetes tells every authenticated user anyway: it
// needs no right of its own. Answers are never remembered, for this caller
// or another: the UI asks again when it needs to. The actions decide
// afresh when asked; the questions here are theirs, and a refusal carries
// the message the action would answer with.
func (s *Server) getAccess(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project := r.PathValue("project")
	stages, err := accessStages(r.URL.Query()["stage"])
	if err != nil {
		return err
	}
	c, _, err := s.impersonating(u)
	if err != nil {
		return err
	}
	review := func(ctx context.Context, acc access) (bool, string, error) {
		return selfReview(ctx, c, acc)
	}

	var (
		createPromotions, rename apitypes.Permission
		promoteVerb              = make([]apitypes.Permission, len(stages))
		approveVerb              = make([]apitypes.Permission, len(stages))
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(accessParallelism)
	g.Go(func() error {
		acc := kargoAccess("create", promotionKind.resource, project, "")
		allowed, reason, err := review(gctx, acc)
		createPromotions = permission(allowed, func() string { return forbidden(u.Username, acc, reason).Error() })
		return err
	})
	g.Go(func() error {
		acc := kargoAccess("update", freightKind.resource, project, "")
		allowed, reason, err := review(gctx, acc)
		rename = permission(allowed, func() string { return forbidden(u.Username, acc, reason).Error() })
		return err
	})
	for i, stage := range stages {
		g.Go(func() error {
			allowed, reason, err := review(gctx, kargoAccess(authz.PromoteVerb, stageKind.resource, project, stage))
			promoteVerb[i] = permission(allowed, func() string {
				return (&authz.Denied{User: u.Username, Namespace: project, Stage: stage, Reason: reason}).Error()
			})
			return err
		})
	}
	for i, stage := range stages {
		g.Go(func() error {
			allowed, reason, err := review(gctx, kargoAccess(kargoapi.ApproveVerb, stageKind.resource, project, stage))
			approveVerb[i] = permission(allowed, func() string {
				return (&authz.ApproveDenied{User: u.Username, Namespace: project, Stage: stage, Reason: reason}).Error()
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	answer := apitypes.Access{Stages: make(map[string]apitypes.StageAccess, len(stages)), Rename: rename}
	for i, stage := range stages {
		promote := promoteVerb[i]
		if promote.Allowed && !createPromotions.Allowed {
			promote = createPromotions
		}
		// Either verb approves; a refusal is the one the action gives for a
		// Stage that asks for no approvals (the promote verb's).
		approve := promoteVerb[i]
		if !approve.Allowed && approveVerb[i].Allowed {
			approve = approveVerb[i]
		}
		answer.Stages[stage] = apitypes.StageAccess{Promote: promote, Approve: approve}
	}
	writeJSON(w, http.StatusOK, answer)
	return nil
}

// accessStages returns the Stages of an access question, each once, or a
// 400 for a question that names too many or an empty name.
func accessStages(names []string) ([]string, error) {
	seen := make(map[string]bool, len(names))
	var stages []string
	for _, n := range names {
		if n == "" {
			return nil, badRequest("stage= needs a Stage's name")
		}
		if !seen[n] {
			seen[n] = true
			stages = append(stages, n)
		}
	}
	if len(stages) > maxAccessStages {
		return nil, badRequest("ask about at most %d Stages at once, not %d", maxAccessStages, len(stages))
	}
	return stages, nil
}

// selfReview asks, with a SelfSubjectAccessReview through c (a client that
// impersonates the caller), whether the caller may make acc; it returns
// the authorizer's explanation when not.
func selfReview(ctx context.Context, c client.Client, acc access) (bool, string, error) {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: acc.verb, Group: acc.group, Resource: acc.resource, Subresource: acc.subresource,
			Namespace: acc.namespace, Name: acc.name,
		},
	}}
	if err := c.Create(ctx, review); err != nil {
		return false, "", fmt.Errorf("review whether the caller may %s %s: %w", acc.verb, acc.resource, err)
	}
	return review.Status.Allowed && !review.Status.Denied, review.Status.Reason, nil
}

// permission is an answer: allowed, or refused for the reason refusal
// gives.
func permission(allowed bool, refusal func() string) apitypes.Permission {
	if allowed {
		return apitypes.Permission{Allowed: true}
	}
	return apitypes.Permission{Reason: refusal()}
}
