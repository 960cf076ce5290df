// Package authz holds the authorization decisions kargo makes on behalf of
// users, asking the Kubernetes API server with SubjectAccessReviews as the
// requesting user: whether a user may promote Freight into a Stage (a
// right RBAC holds but never checks itself), and whether a user may read a
// Secret that a spec of theirs would make kargo's controller read with its
// own rights. The admission webhooks and the API server both ask it, so
// that no path skips the check.
package authz

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// PromoteVerb is the virtual RBAC verb on stages.kargo.akuity.io that
// allows promoting into a Stage. Kubernetes never checks it itself; kargo
// does, through a SubjectAccessReview.
const PromoteVerb = "promote"

// Authorizer asks the Kubernetes API server whether users may promote.
type Authorizer struct {
	// Client creates SubjectAccessReviews; its identity needs the right to
	// create subjectaccessreviews.authorization.k8s.io.
	Client client.Client
}

// Denied is the answer to a user who may not promote.
type Denied struct {
	User, Namespace, Stage string
	// Reason is the authorizer's own explanation, when it gave one.
	Reason string
}

// Error says who may not do what, and how the right is granted.
func (d *Denied) Error() string {
	msg := fmt.Sprintf("user %q may not promote to Stage %q in project %q: that needs the %q verb on stages.%s %q in namespace %q (the kargo-promoter ClusterRole bound in the project, or a Role naming the Stage)",
		d.User, d.Stage, d.Namespace, PromoteVerb, kargoapi.GroupVersion.Group, d.Stage, d.Namespace)
	if d.Reason != "" {
		msg += "; " + d.Reason
	}
	return msg
}

// AuthorizePromote returns nil when user may promote into the Stage named
// stage in namespace, a *Denied when not, and another error when the
// question could not be asked.
func (a *Authorizer) AuthorizePromote(ctx context.Context, user authenticationv1.UserInfo, namespace, stage string) error {
	allowed, reason, err := a.review(ctx, user, authorizationv1.ResourceAttributes{
		Namespace: namespace,
		Verb:      PromoteVerb,
		Group:     kargoapi.GroupVersion.Group,
		Resource:  "stages",
		Name:      stage,
	})
	if err != nil {
		return fmt.Errorf("review whether %s may promote to Stage %s/%s: %w", user.Username, namespace, stage, err)
	}
	if allowed {
		return nil
	}
	return &Denied{User: user.Username, Namespace: namespace, Stage: stage, Reason: reason}
}

// review asks whether user may make the access attrs describes, and
// returns the authorizer's explanation when not.
func (a *Authorizer) review(ctx context.Context, user authenticationv1.UserInfo, attrs authorizationv1.ResourceAttributes) (bool, string, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	review := &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               user.Username,
			UID:                user.UID,
			Groups:             user.Groups,
			Extra:              extra,
			ResourceAttributes: &attrs,
		},
	}
	if err := a.Client.Create(ctx, review); err != nil {
		return false, "", err
	}
	return review.Status.Allowed && !review.Status.Denied, review.Status.Reason, nil
}
