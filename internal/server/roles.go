package server

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
)

// Project roles are ordinary RBAC: a Role in the project's namespace, or
// one of the shipped ClusterRoles, granted by RoleBindings there. Every
// read and write is made as the caller (impersonation), so the Kubernetes
// API server's own rules decide: creating a Role or binding one needs
// every permission it grants (RBAC's escalation check), and kubectl sees
// exactly what kargo made.

// shippedRoles are the short names of the shipped ClusterRoles a project
// may bind; kargo create role refuses these names, so that a name means
// one role.
var shippedRoles = map[string]string{"admin": "kargo-admin", "approver": "kargo-approver", "promoter": "kargo-promoter", "viewer": "kargo-viewer"}

// isShippedRoleName reports whether name is a shipped role's short or full
// name.
func isShippedRoleName(name string) (string, bool) {
	if full, ok := shippedRoles[name]; ok {
		return full, true
	}
	for _, full := range shippedRoles {
		if name == full {
			return full, true
		}
	}
	return "", false
}

// roleResources are the resources project Roles may name, by the names
// users type.
var roleResources = map[string]string{
	"stages": "stages", "stage": "stages",
	"warehouses": "warehouses", "warehouse": "warehouses",
	"freight": "freights", "freights": "freights",
	"promotions": "promotions", "promotion": "promotions",
	"promotionpolicies": "promotionpolicies", "promotionpolicy": "promotionpolicies",
	"promotionwindows": "promotionwindows", "promotionwindow": "promotionwindows",
}

// roleVerbs are the verbs a project Role's rules may hold.
var roleVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "promote",
	kargoapi.HoldVerb, kargoapi.ReleaseVerb, kargoapi.FreezeVerb, kargoapi.UnfreezeVerb, kargoapi.OverrideWindowVerb, "*"}

// roleRef returns the RoleRef a role name means in project: a shipped
// ClusterRole by its short or full name, else the project's Role, which
// must exist.
func (s *Server) roleRef(ctx context.Context, c client.Client, project, name string) (rbacv1.RoleRef, error) {
	if full, ok := isShippedRoleName(name); ok {
		return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: full}, nil
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: project, Name: name}, &rbacv1.Role{}); err != nil {
		if apierrors.IsNotFound(err) {
			return rbacv1.RoleRef{}, notFound("role %q not found in project %q; kargo get roles lists them (admin, approver, promoter and viewer are the shipped ones)", name, project)
		}
		return rbacv1.RoleRef{}, err
	}
	return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}, nil
}

// listRoles lists the project's Roles and the shipped ClusterRoles, each
// with the subjects the project's RoleBindings grant it to.
func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project := r.PathValue("project")
	for _, res := range []string{"roles", "rolebindings"} {
		if err := s.authz.check(ctx, u, access{verb: "list", group: rbacv1.GroupName, resource: res, namespace: project}); err != nil {
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
	var roles rbacv1.RoleList
	if err := c.List(ctx, &roles, client.InNamespace(project)); err != nil {
		return err
	}
	var bindings rbacv1.RoleBindingList
	if err := c.List(ctx, &bindings, client.InNamespace(project)); err != nil {
		return err
	}
	byRef := map[rbacv1.RoleRef]*apitypes.Role{}
	var out []*apitypes.Role
	add := func(ref rbacv1.RoleRef, rules []rbacv1.PolicyRule) *apitypes.Role {
		role := &apitypes.Role{Name: ref.Name, Kind: ref.Kind, Rules: rulesOf(rules)}
		byRef[ref] = role
		out = append(out, role)
		return role
	}
	for _, full := range []string{"kargo-admin", "kargo-approver", "kargo-promoter", "kargo-viewer"} {
		add(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: full}, nil)
	}
	for _, role := range roles.Items {
		add(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}, role.Rules)
	}
	for _, b := range bindings.Items {
		if b.Labels[kargoapi.APITokenLabelKey] == kargoapi.LabelTrueValue {
			continue // an API token's own binding: kargo get tokens lists it
		}
		role := byRef[b.RoleRef]
		if role == nil {
			role = add(b.RoleRef, nil) // another ClusterRole bound here
		}
		for _, sub := range b.Subjects {
			switch sub.Kind {
			case rbacv1.UserKind:
				role.Users = appendNew(role.Users, sub.Name)
			case rbacv1.GroupKind:
				role.Groups = appendNew(role.Groups, sub.Name)
			case rbacv1.ServiceAccountKind:
				name := sub.Name
				if sub.Namespace != project {
					name = sub.Namespace + ":" + sub.Name
				}
				role.ServiceAccounts = appendNew(role.ServiceAccounts, name)
			}
		}
	}
	list := apitypes.RoleList{Items: []apitypes.Role{}}
	for _, role := range out {
		sort.Strings(role.Users)
		sort.Strings(role.Groups)
		sort.Strings(role.ServiceAccounts)
		list.Items = append(list.Items, *role)
	}
	sort.SliceStable(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	writeJSON(w, http.StatusOK, list)
	return nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// rulesOf shows a Role's rules, the kargo.akuity.io ones by resource; a
// rule on another group is shown with its group.
func rulesOf(rules []rbacv1.PolicyRule) []apitypes.RoleRule {
	var out []apitypes.RoleRule
	for _, r := range rules {
		res := slices.Clone(r.Resources)
		if len(r.APIGroups) != 1 || r.APIGroups[0] != kargoapi.GroupVersion.Group {
			groups := strings.Join(r.APIGroups, ",")
			for i := range res {
				if groups != "" {
					res[i] += "." + groups
				}
			}
		}
		out = append(out, apitypes.RoleRule{Verbs: r.Verbs, Resources: res, ResourceNames: r.ResourceNames})
	}
	return out
}

// createRole creates a Role in the project, as the caller: the Kubernetes
// API server refuses a Role granting any permission the caller lacks.
func (s *Server) createRole(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project := r.PathValue("project")
	var req apitypes.CreateRoleRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if errs := validation.IsDNS1123Subdomain(req.Name); len(errs) > 0 {
		return badRequest("the role name %q is not valid: %s", req.Name, strings.Join(errs, "; "))
	}
	if _, ok := isShippedRoleName(req.Name); ok || strings.HasPrefix(req.Name, "kargo-") {
		return badRequest("the role name %q is reserved for kargo's shipped roles (admin, approver, promoter, viewer); choose another", req.Name)
	}
	if len(req.Rules) == 0 {
		return badRequest("a role needs at least one rule, such as --rule promote:stages:uat")
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: project}}
	for _, rule := range req.Rules {
		pr, err := policyRule(rule)
		if err != nil {
			return err
		}
		role.Rules = append(role.Rules, pr)
	}
	if err := s.authz.check(ctx, u, access{verb: "create", group: rbacv1.GroupName, resource: "roles", namespace: project}); err != nil {
		return err
	}
	if err := s.inProject(ctx, project); err != nil {
		return err
	}
	c, _, err := s.impersonating(u)
	if err != nil {
		return err
	}
	if err := c.Create(context.WithoutCancel(ctx), role); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apitypes.Role{Name: role.Name, Kind: "Role", Rules: rulesOf(role.Rules)})
	return nil
}

// policyRule turns a rule as typed into RBAC's, on kargo.akuity.io.
func policyRule(rule apitypes.RoleRule) (rbacv1.PolicyRule, error) {
	pr := rbacv1.PolicyRule{APIGroups: []string{kargoapi.GroupVersion.Group}, ResourceNames: rule.ResourceNames}
	if len(rule.Verbs) == 0 || len(rule.Resources) == 0 {
		return pr, badRequest("a rule names verbs and resources, such as promote:stages:uat or get,list,watch:stages,freight")
	}
	for _, v := range rule.Verbs {
		if !slices.Contains(roleVerbs, v) {
			return pr, badRequest("unknown verb %q; the verbs are %s", v, strings.Join(roleVerbs, ", "))
		}
		pr.Verbs = appendNew(pr.Verbs, v)
	}
	for _, res := range rule.Resources {
		full, ok := roleResources[strings.ToLower(res)]
		if !ok {
			return pr, badRequest("unknown resource %q; a project role's rules name stages, warehouses, freight, promotions or promotionpolicies", res)
		}
		pr.Resources = appendNew(pr.Resources, full)
	}
	return pr, nil
}

// deleteRole deletes a Role of the project and the RoleBindings kargo
// grant made for it, as the caller.
func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	if _, ok := isShippedRoleName(name); ok {
		return badRequest("%q is a shipped ClusterRole, shared by every project; revoke it from its subjects instead", name)
	}
	if err := s.authz.check(ctx, u, access{verb: "delete", group: rbacv1.GroupName, resource: "roles", namespace: project, name: name}); err != nil {
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
	if err := c.Delete(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name}}); err != nil {
		if apierrors.IsNotFound(err) {
			return notFound("role %q not found in project %q", name, project)
		}
		return err
	}
	var bindings rbacv1.RoleBindingList
	if err := c.List(ctx, &bindings, client.InNamespace(project), client.MatchingLabels{kargoapi.GrantLabelKey: kargoapi.LabelTrueValue}); err == nil {
		for i := range bindings.Items {
			b := &bindings.Items[i]
			if b.RoleRef.Kind == "Role" && b.RoleRef.Name == name {
				if err := client.IgnoreNotFound(c.Delete(ctx, b)); err != nil {
					return err
				}
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// grantBindingName is the name of the RoleBinding kargo grant keeps for a
// role: one per role, holding every subject granted it.
func grantBindingName(ref rbacv1.RoleRef) string {
	if ref.Kind == "ClusterRole" {
		return ref.Name // kargo-admin, kargo-approver, kargo-promoter, kargo-viewer
	}
	return "role-" + ref.Name
}

// subjects turns a GrantRequest into RBAC subjects.
func subjects(project string, req apitypes.GrantRequest) ([]rbacv1.Subject, error) {
	var out []rbacv1.Subject
	for _, name := range req.Users {
		out = append(out, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name})
	}
	for _, name := range req.Groups {
		out = append(out, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name})
	}
	for _, sa := range req.ServiceAccounts {
		ns, name, found := strings.Cut(sa, ":")
		if !found {
			ns, name = project, sa
		}
		out = append(out, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name})
	}
	if len(out) == 0 {
		return nil, badRequest("name whom to grant or revoke the role with --user, --group or --service-account")
	}
	for _, sub := range out {
		if sub.Name == "" || (sub.Kind == rbacv1.ServiceAccountKind && sub.Namespace == "") {
			return nil, badRequest("a subject's name may not be empty")
		}
	}
	return out, nil
}

// grant adds subjects to the role's RoleBinding, creating it, as the
// caller: the Kubernetes API server refuses to bind a role whose
// permissions the caller does not all hold (unless they have bind).
func (s *Server) grant(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	var req apitypes.GrantRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	subs, err := subjects(project, req)
	if err != nil {
		return err
	}
	if err := s.authz.check(ctx, u, access{verb: "create", group: rbacv1.GroupName, resource: "rolebindings", namespace: project}); err != nil {
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
	ref, err := s.roleRef(ctx, c, project, name)
	if err != nil {
		return err
	}
	key := client.ObjectKey{Namespace: project, Name: grantBindingName(ref)}
	for attempt := 1; ; attempt++ {
		b := &rbacv1.RoleBinding{}
		err := c.Get(ctx, key, b)
		switch {
		case apierrors.IsNotFound(err):
			b = &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: key.Name, Labels: map[string]string{kargoapi.GrantLabelKey: kargoapi.LabelTrueValue}},
				RoleRef:    ref,
				Subjects:   subs,
			}
			err = c.Create(ctx, b)
		case err != nil:
			return err
		case b.RoleRef != ref:
			return newError(http.StatusConflict, metav1.StatusReasonConflict,
				"RoleBinding %s in project %q binds %s %s, not role %q; rename or delete it to grant with kargo", key.Name, project, b.RoleRef.Kind, b.RoleRef.Name, name)
		default:
			changed := false
			for _, sub := range subs {
				if !slices.Contains(b.Subjects, sub) {
					b.Subjects = append(b.Subjects, sub)
					changed = true
				}
			}
			if !changed {
				break
			}
			err = c.Update(ctx, b)
		}
		if err == nil {
			writeJSON(w, http.StatusOK, roleOfBinding(project, b))
			return nil
		}
		if !(apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) || attempt == 5 {
			return err
		}
	}
}

// revoke removes subjects from every RoleBinding of the project that binds
// the role, as the caller; a binding kargo grant made is deleted with its
// last subject.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	var req apitypes.GrantRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	subs, err := subjects(project, req)
	if err != nil {
		return err
	}
	if err := s.authz.check(ctx, u, access{verb: "update", group: rbacv1.GroupName, resource: "rolebindings", namespace: project}); err != nil {
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
	var ref rbacv1.RoleRef
	if full, ok := isShippedRoleName(name); ok {
		ref = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: full}
	} else {
		// The Role may be gone already; its bindings are still revoked.
		ref = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}
	}
	var bindings rbacv1.RoleBindingList
	if err := c.List(ctx, &bindings, client.InNamespace(project)); err != nil {
		return err
	}
	removed := 0
	for i := range bindings.Items {
		b := &bindings.Items[i]
		if b.RoleRef != ref || b.Labels[kargoapi.APITokenLabelKey] == kargoapi.LabelTrueValue {
			continue
		}
		kept := slices.DeleteFunc(slices.Clone(b.Subjects), func(sub rbacv1.Subject) bool { return slices.Contains(subs, sub) })
		if len(kept) == len(b.Subjects) {
			continue
		}
		removed += len(b.Subjects) - len(kept)
		if len(kept) == 0 && b.Labels[kargoapi.GrantLabelKey] == kargoapi.LabelTrueValue {
			err = c.Delete(ctx, b, client.Preconditions{ResourceVersion: &b.ResourceVersion})
		} else {
			b.Subjects = kept
			err = c.Update(ctx, b)
		}
		if err != nil {
			return err
		}
	}
	if removed == 0 {
		return notFound("role %q is not granted to %s in project %q", name, describeSubjects(project, subs), project)
	}
	writeJSON(w, http.StatusOK, apitypes.Role{Name: ref.Name, Kind: ref.Kind})
	return nil
}

func describeSubjects(project string, subs []rbacv1.Subject) string {
	var parts []string
	for _, sub := range subs {
		switch sub.Kind {
		case rbacv1.ServiceAccountKind:
			n := sub.Name
			if sub.Namespace != project {
				n = sub.Namespace + ":" + n
			}
			parts = append(parts, "service account "+n)
		default:
			parts = append(parts, strings.ToLower(sub.Kind)+" "+sub.Name)
		}
	}
	return strings.Join(parts, ", ")
}

// roleOfBinding shows a RoleBinding as the role with its subjects.
func roleOfBinding(project string, b *rbacv1.RoleBinding) apitypes.Role {
	role := apitypes.Role{Name: b.RoleRef.Name, Kind: b.RoleRef.Kind}
	for _, sub := range b.Subjects {
		switch sub.Kind {
		case rbacv1.UserKind:
			role.Users = append(role.Users, sub.Name)
		case rbacv1.GroupKind:
			role.Groups = append(role.Groups, sub.Name)
		case rbacv1.ServiceAccountKind:
			n := sub.Name
			if sub.Namespace != project {
				n = sub.Namespace + ":" + n
			}
			role.ServiceAccounts = append(role.ServiceAccounts, n)
		}
	}
	return role
}
