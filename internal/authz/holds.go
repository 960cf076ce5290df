package authz

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// StageVerbDenied is the answer to a user who lacks a virtual verb of holds,
// freezes and windows (kargoapi.HoldVerb and the others) on a Stage, or on
// every Stage of a project.
type StageVerbDenied struct {
	User, Namespace, Verb string
	// Stage is empty for a verb checked on every Stage of the project
	// (freeze, unfreeze).
	Stage string
	// Reason is the authorizer's own explanation, when it gave one.
	Reason string
}

// Error says who may not do what, and how the right is granted.
func (d *StageVerbDenied) Error() string {
	var msg string
	if d.Stage == "" {
		msg = fmt.Sprintf("user %q may not %s project %q: that needs the %q verb on every stages.%s in namespace %q (a Role or ClusterRole bound in the project, without resourceNames; kargo-admin has it)",
			d.User, d.Verb, d.Namespace, d.Verb, kargoapi.GroupVersion.Group, d.Namespace)
	} else {
		msg = fmt.Sprintf("user %q may not %s Stage %q in project %q: that needs the %q verb on stages.%s %q in namespace %q",
			d.User, d.Verb, d.Stage, d.Namespace, d.Verb, kargoapi.GroupVersion.Group, d.Stage, d.Namespace)
	}
	if d.Reason != "" {
		msg += "; " + d.Reason
	}
	return msg
}

// AuthorizeStageVerb returns nil when user holds verb on the Stage named
// stage in namespace (on every Stage there, when stage is empty), a
// *StageVerbDenied when not, and another error when the question could not
// be asked. It asks as the user, never with the asker's own rights.
func (a *Authorizer) AuthorizeStageVerb(ctx context.Context, user authenticationv1.UserInfo, namespace, verb, stage string) error {
	allowed, reason, err := a.review(ctx, user, authorizationv1.ResourceAttributes{
		Namespace: namespace,
		Verb:      verb,
		Group:     kargoapi.GroupVersion.Group,
		Resource:  "stages",
		Name:      stage,
	})
	if err != nil {
		return fmt.Errorf("review whether %s may %s stages %s/%s: %w", user.Username, verb, namespace, stage, err)
	}
	if allowed {
		return nil
	}
	return &StageVerbDenied{User: user.Username, Namespace: namespace, Verb: verb, Stage: stage, Reason: reason}
}
