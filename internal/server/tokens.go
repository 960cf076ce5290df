package server

import (
	"context"
	"net/http"
	"sort"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
)

// API tokens are ServiceAccounts in the project's namespace, labelled
// kargoapi.APITokenLabelKey, bound to one role by a RoleBinding the
// ServiceAccount owns; the secret is a token of the ServiceAccount from the
// TokenRequest API, shown once and stored nowhere. The Kubernetes API
// server checks it like any ServiceAccount token (kargo's API server asks
// it with a TokenReview), and deleting the ServiceAccount revokes every
// token it was given. Everything is made as the caller: creating a token
// needs the rights to create ServiceAccounts, their tokens and
// RoleBindings in the project, and RBAC's escalation check refuses a role
// with any permission the caller does not hold.

// defaultTokenLifetime is an API token's lifetime when the request names
// none.
const defaultTokenLifetime = 90 * 24 * time.Hour

// tokenBindingName is the name of the RoleBinding of the token name.
func tokenBindingName(name string) string { return "api-token-" + name }

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project := r.PathValue("project")
	var req apitypes.CreateTokenRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	// The RoleBinding's name adds 10 characters to the token's.
	if errs := validation.IsDNS1123Label(req.Name); len(errs) > 0 || len(req.Name) > 50 {
		return badRequest("the token name %q is not valid: lowercase letters, digits and -, at most 50 characters", req.Name)
	}
	if req.Role == "" {
		return badRequest("name the role the token holds with --role (admin, promoter, viewer, or a role of the project)")
	}
	lifetime := defaultTokenLifetime
	if req.ExpirationSeconds < 0 || (req.ExpirationSeconds > 0 && req.ExpirationSeconds < 600) {
		return badRequest("a token lives at least 10 minutes")
	} else if req.ExpirationSeconds > 0 {
		lifetime = time.Duration(req.ExpirationSeconds) * time.Second
	}
	for _, acc := range []access{
		{verb: "create", resource: "serviceaccounts", namespace: project},
		{verb: "create", resource: "serviceaccounts", subresource: "token", namespace: project, name: req.Name},
		{verb: "create", group: rbacv1.GroupName, resource: "rolebindings", namespace: project},
	} {
		if err := s.authz.check(ctx, u, acc); err != nil {
			return err
		}
	}
	if err := s.inProject(ctx, project); err != nil {
		return err
	}
	c, _, err := s.impersonating(u)
	if err != nil {
		return err
	}
	// Once asked, the token is made or undone even if the caller hangs up.
	ctx = context.WithoutCancel(ctx)
	ref, err := s.roleRef(ctx, c, project, req.Role)
	if err != nil {
		return err
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: project, Name: tokenBindingName(req.Name),
			Labels: map[string]string{kargoapi.APITokenLabelKey: kargoapi.LabelTrueValue},
		},
		RoleRef:  ref,
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: project, Name: req.Name}},
	}
	// RBAC's escalation check first, with nothing written: a caller who
	// may not bind the role gets no ServiceAccount either.
	if err := c.Create(ctx, binding.DeepCopy(), client.DryRunAll); err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Namespace: project, Name: req.Name,
		Labels: map[string]string{kargoapi.APITokenLabelKey: kargoapi.LabelTrueValue},
		Annotations: map[string]string{
			kargoapi.TokenRoleAnnotationKey:      ref.Kind + "/" + ref.Name,
			kargoapi.TokenCreatedByAnnotationKey: u.Username,
		},
	}}
	if err := c.Create(ctx, sa); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return newError(http.StatusConflict, metav1.StatusReasonAlreadyExists,
				"a ServiceAccount %q already exists in project %q; choose another token name (kargo get tokens lists the tokens)", req.Name, project)
		}
		return err
	}
	// Deleting the ServiceAccount (kargo delete token) takes its binding
	// along through the garbage collector, even when made with kubectl.
	binding.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ServiceAccount", Name: sa.Name, UID: sa.UID}}
	if err := c.Create(ctx, binding); err != nil {
		// A binding of that name that is not ours stays as it is.
		_ = c.Delete(ctx, sa)
		return err
	}
	undo := func() {
		_ = c.Delete(ctx, sa)
		_ = c.Delete(ctx, binding, client.Preconditions{UID: &binding.UID})
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(lifetime / time.Second))}}
	if err := c.SubResource("token").Create(ctx, sa, tr); err != nil {
		undo()
		return err
	}
	expires := tr.Status.ExpirationTimestamp
	patch := client.MergeFrom(sa.DeepCopy())
	sa.Annotations[kargoapi.TokenExpiresAnnotationKey] = expires.UTC().Format(time.RFC3339)
	if err := c.Patch(ctx, sa, patch); err != nil {
		undo()
		return err
	}
	t := tokenOf(sa)
	t.Token = tr.Status.Token
	writeJSON(w, http.StatusCreated, t)
	return nil
}

// tokenOf shows the ServiceAccount of an API token, without its secret.
func tokenOf(sa *corev1.ServiceAccount) apitypes.Token {
	t := apitypes.Token{
		Name:      sa.Name,
		Role:      sa.Annotations[kargoapi.TokenRoleAnnotationKey],
		CreatedBy: sa.Annotations[kargoapi.TokenCreatedByAnnotationKey],
		Created:   sa.CreationTimestamp,
		Username:  "system:serviceaccount:" + sa.Namespace + ":" + sa.Name,
	}
	if exp, err := time.Parse(time.RFC3339, sa.Annotations[kargoapi.TokenExpiresAnnotationKey]); err == nil {
		t.Expires = &metav1.Time{Time: exp}
	}
	return t
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project := r.PathValue("project")
	if err := s.authz.check(ctx, u, access{verb: "list", resource: "serviceaccounts", namespace: project}); err != nil {
		return err
	}
	if err := s.inProject(ctx, project); err != nil {
		return err
	}
	c, _, err := s.impersonating(u)
	if err != nil {
		return err
	}
	var sas corev1.ServiceAccountList
	if err := c.List(ctx, &sas, client.InNamespace(project), client.MatchingLabels{kargoapi.APITokenLabelKey: kargoapi.LabelTrueValue}); err != nil {
		return err
	}
	list := apitypes.TokenList{Items: []apitypes.Token{}}
	for i := range sas.Items {
		list.Items = append(list.Items, tokenOf(&sas.Items[i]))
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	writeJSON(w, http.StatusOK, list)
	return nil
}

// deleteToken revokes an API token: its ServiceAccount goes, and with it
// every token the Kubernetes API server gave it.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	if err := s.authz.check(ctx, u, access{verb: "delete", resource: "serviceaccounts", namespace: project, name: name}); err != nil {
		return err
	}
	if err := s.inProject(ctx, project); err != nil {
		return err
	}
	c, _, err := s.impersonating(u)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	sa := &corev1.ServiceAccount{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: project, Name: name}, sa); err != nil {
		if apierrors.IsNotFound(err) {
			return notFound("token %q not found in project %q; kargo get tokens lists them", name, project)
		}
		return err
	}
	if sa.Labels[kargoapi.APITokenLabelKey] != kargoapi.LabelTrueValue {
		return badRequest("ServiceAccount %q in project %q is not an API token (it has no %s label); kargo deletes only the tokens it made", name, project, kargoapi.APITokenLabelKey)
	}
	if err := c.Delete(ctx, sa, client.Preconditions{UID: &sa.UID}); err != nil {
		return err
	}
	// The garbage collector would delete the binding too; doing it now
	// leaves nothing behind where none runs.
	b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: tokenBindingName(name)}}
	if err := c.Delete(ctx, b); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return err
	}
	// This server forgets the token at once; others remember their
	// TokenReview of it for up to a minute.
	s.authn.revoke("system:serviceaccount:"+project+":"+name, string(sa.UID))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
