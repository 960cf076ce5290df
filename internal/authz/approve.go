package authz

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// ApproveDenied is the answer to a user who may not approve Freight for a
// Stage.
type ApproveDenied struct {
	User, Namespace, Stage string
	// Reason is the authorizer's own explanation, when it gave one.
	Reason string
}

// Error says who may not approve for which Stage, and how the right is
// granted.
func (d *ApproveDenied) Error() string {
	msg := fmt.Sprintf("user %q may not approve Freight for Stage %q in project %q: that needs the %q verb on stages.%s %q in namespace %q (the kargo-approver ClusterRole bound in the project, or a Role naming the Stage)",
		d.User, d.Stage, d.Namespace, kargoapi.ApproveVerb, kargoapi.GroupVersion.Group, d.Stage, d.Namespace)
	if d.Reason != "" {
		msg += "; " + d.Reason
	}
	return msg
}

// AuthorizeApprove returns nil when user holds the approve verb on the
// Stage named stage in namespace, an *ApproveDenied when not, and another
// error when the question could not be asked. It is asked as the user,
// never with the rights of whoever asks.
func (a *Authorizer) AuthorizeApprove(ctx context.Context, user authenticationv1.UserInfo, namespace, stage string) error {
	allowed, reason, err := a.review(ctx, user, authorizationv1.ResourceAttributes{
		Namespace: namespace,
		Verb:      kargoapi.ApproveVerb,
		Group:     kargoapi.GroupVersion.Group,
		Resource:  "stages",
		Name:      stage,
	})
	if err != nil {
		return fmt.Errorf("review whether %s may approve for Stage %s/%s: %w", user.Username, namespace, stage, err)
	}
	if allowed {
		return nil
	}
	return &ApproveDenied{User: user.Username, Namespace: namespace, Stage: stage, Reason: reason}
}
