package authz

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
)

// SecretDenied is the answer to a user who may not read a Secret that a
// spec of theirs names.
type SecretDenied struct {
	User, Namespace, Secret string
	// Reason is the authorizer's own explanation, when it gave one.
	Reason string
}

// Error says who may not read which Secret, and how the right is granted.
func (d *SecretDenied) Error() string {
	msg := fmt.Sprintf("user %q may not read Secret %q in namespace %q: that needs the \"get\" verb on secrets %q in namespace %q (a Role naming the Secret under resourceNames is enough)",
		d.User, d.Secret, d.Namespace, d.Secret, d.Namespace)
	if d.Reason != "" {
		msg += "; " + d.Reason
	}
	return msg
}

// AuthorizeSecretRead returns nil when user may get the Secret named secret
// in namespace, a *SecretDenied when not, and another error when the
// question could not be asked.
//
// Kargo's controller reads Secrets with its own rights, which cover every
// Secret of every project. A spec that names a Secret therefore makes the
// controller read it on its author's behalf; the webhooks ask this before
// accepting such a spec, so that nobody gets a Secret through kargo that
// Kubernetes would not give them. The Secret need not exist yet: RBAC
// answers for the name.
func (a *Authorizer) AuthorizeSecretRead(ctx context.Context, user authenticationv1.UserInfo, namespace, secret string) error {
	allowed, reason, err := a.review(ctx, user, authorizationv1.ResourceAttributes{
		Namespace: namespace,
		Verb:      "get",
		Resource:  "secrets",
		Name:      secret,
	})
	if err != nil {
		return fmt.Errorf("review whether %s may read Secret %s/%s: %w", user.Username, namespace, secret, err)
	}
	if allowed {
		return nil
	}
	return &SecretDenied{User: user.Username, Namespace: namespace, Secret: secret, Reason: reason}
}
