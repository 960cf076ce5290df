package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/authz"
)

// accessTTL is how long an answer of the Kubernetes authorizer is reused
// for the same question. A revoked right keeps working for at most this
// long; a granted one may take as long to take effect.
const accessTTL = 5 * time.Second

// access is one question to the authorizer: may the caller do verb on the
// resource?
type access struct {
	verb, group, resource, namespace, name string
	// subresource, such as "token" of serviceaccounts, when the access is
	// to one.
	subresource string
}

// kargoAccess is an access to a kargo.akuity.io resource.
func kargoAccess(verb, resource, namespace, name string) access {
	return access{verb: verb, group: kargoapi.GroupVersion.Group, resource: resource, namespace: namespace, name: name}
}

// authorizer asks the Kubernetes API server, with SubjectAccessReviews,
// what callers may do, and remembers the answers briefly.
type authorizer struct {
	reviewer client.Client
	promote  *authz.Authorizer
	now      func() time.Time

	mu      sync.Mutex
	answers map[string]answer
}

type answer struct {
	// err is nil when allowed, the refusal otherwise.
	err     error
	expires time.Time
}

func newAuthorizer(reviewer client.Client) *authorizer {
	return &authorizer{reviewer: reviewer, promote: &authz.Authorizer{Client: reviewer}, now: time.Now, answers: map[string]answer{}}
}

// check returns nil when u may make the access, and a 403 naming the user,
// verb and resource when not.
func (a *authorizer) check(ctx context.Context, u authenticationv1.UserInfo, acc access) error {
	return a.remembered(cacheKey(u, acc), func() (error, error) {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extraOf(u),
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: acc.verb, Group: acc.group, Resource: acc.resource, Subresource: acc.subresource,
				Namespace: acc.namespace, Name: acc.name,
			},
		}}
		if err := a.reviewer.Create(ctx, review); err != nil {
			return nil, fmt.Errorf("review whether %s may %s %s: %w", u.Username, acc.verb, acc.resource, err)
		}
		if review.Status.Allowed && !review.Status.Denied {
			return nil, nil
		}
		return forbidden(u.Username, acc, review.Status.Reason), nil
	})
}

// recheck is check without the remembered answer: for a watch that asks
// again whether its caller may still watch, for which an answer up to
// accessTTL old would stretch the time a revoked right keeps working.
func (a *authorizer) recheck(ctx context.Context, u authenticationv1.UserInfo, acc access) error {
	a.mu.Lock()
	delete(a.answers, cacheKey(u, acc))
	a.mu.Unlock()
	return a.check(ctx, u, acc)
}

// checkPromote returns nil when u holds the promote verb on the Stage, and
// an *authz.Denied when not: the one promote decision the webhooks make
// too.
func (a *authorizer) checkPromote(ctx context.Context, u authenticationv1.UserInfo, namespace, stage string) error {
	acc := kargoAccess(authz.PromoteVerb, "stages", namespace, stage)
	return a.remembered(cacheKey(u, acc), func() (error, error) {
		err := a.promote.AuthorizePromote(ctx, u, namespace, stage)
		var denied *authz.Denied
		if errors.As(err, &denied) {
			return err, nil
		}
		return nil, err
	})
}

// remembered returns the answer stored under key, or asks for it. ask
// returns the answer (nil: allowed) and an error when it could not ask;
// only answers are remembered.
func (a *authorizer) remembered(key string, ask func() (refusal, err error)) error {
	now := a.now()
	a.mu.Lock()
	ans, ok := a.answers[key]
	a.mu.Unlock()
	if ok && now.Before(ans.expires) {
		return ans.err
	}
	refusal, err := ask()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.answers) >= 50000 {
		for k, v := range a.answers {
			if !now.Before(v.expires) {
				delete(a.answers, k)
			}
		}
		if len(a.answers) >= 50000 {
			clear(a.answers)
		}
	}
	a.answers[key] = answer{err: refusal, expires: now.Add(accessTTL)}
	return refusal
}

// cacheKey identifies a question: everything the authorizer may base its
// answer on.
func cacheKey(u authenticationv1.UserInfo, acc access) string {
	var b strings.Builder
	for _, s := range []string{u.Username, u.UID, acc.verb, acc.group, acc.resource, acc.subresource, acc.namespace, acc.name} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	b.WriteString(strings.Join(u.Groups, "\x01"))
	keys := make([]string, 0, len(u.Extra))
	for k := range u.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(1)
		b.WriteString(strings.Join(u.Extra[k], "\x01"))
	}
	return b.String()
}

func extraOf(u authenticationv1.UserInfo) map[string]authorizationv1.ExtraValue {
	if len(u.Extra) == 0 {
		return nil
	}
	extra := make(map[string]authorizationv1.ExtraValue, len(u.Extra))
	for k, v := range u.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	return extra
}

// forbidden is the 403 for a refused access: who may not do what, and how
// the right is usually granted.
func forbidden(user string, acc access, reason string) *apiError {
	what := acc.resource
	if acc.subresource != "" {
		what += "/" + acc.subresource
	}
	if acc.group != "" {
		what += "." + acc.group
	}
	if acc.name != "" {
		what += fmt.Sprintf(" %q", acc.name)
	}
	switch {
	case acc.namespace != "" && acc.group == kargoapi.GroupVersion.Group:
		what += fmt.Sprintf(" in project %q", acc.namespace)
	case acc.namespace != "":
		what += fmt.Sprintf(" in namespace %q", acc.namespace)
	}
	msg := fmt.Sprintf("user %q may not %s %s", user, acc.verb, what)
	if acc.namespace != "" && acc.group != kargoapi.GroupVersion.Group && (acc.resource == "roles" || acc.resource == "rolebindings" || acc.resource == "serviceaccounts") {
		// Roles, RoleBindings and the ServiceAccounts of API tokens, which
		// kargo-admin manages; it grants nothing else outside kargo's group
		// (not Secrets, for one).
		msg += "; a project administrator can grant it with a RoleBinding in the project to the kargo-admin ClusterRole"
	}
	if acc.group == kargoapi.GroupVersion.Group {
		if acc.namespace != "" {
			msg += "; a project administrator can grant it with a RoleBinding in the project to " + rolesGranting(acc)
		} else {
			msg += "; a cluster administrator can grant it with a ClusterRoleBinding (to kargo-viewer, for reading Projects)"
		}
	}
	if reason != "" {
		msg += "; " + reason
	}
	e := newError(http.StatusForbidden, metav1.StatusReasonForbidden, "%s", msg)
	e.status.Details = &metav1.StatusDetails{Name: acc.name, Group: acc.group, Kind: acc.resource}
	return e
}

// rolesGranting names the shipped ClusterRoles that grant acc in a
// project.
func rolesGranting(acc access) string {
	switch {
	case acc.verb == "get" || acc.verb == "list" || acc.verb == "watch":
		return "one of the kargo-viewer, kargo-promoter or kargo-admin ClusterRoles"
	case acc.resource == "promotions", acc.verb == kargoapi.HoldVerb:
		return "the kargo-promoter or kargo-admin ClusterRole"
	}
	return "the kargo-admin ClusterRole"
}
