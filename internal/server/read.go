package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/version"
)

func (s *Server) getVersion(w http.ResponseWriter, _ *http.Request, _ authenticationv1.UserInfo) error {
	v := apitypes.Version{Version: version.String(), GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, setting := range info.Settings {
			if setting.Key == "vcs.revision" {
				v.GitCommit = setting.Value
			}
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// getAuthConfig tells clients how to sign in: the OpenID provider and its
// public clients, which anyone may know (the provider's discovery document
// says as much).
func (s *Server) getAuthConfig(w http.ResponseWriter, _ *http.Request, _ authenticationv1.UserInfo) error {
	var cfg apitypes.AuthConfig
	if s.oidc != nil {
		c := s.oidc.Config()
		cfg.OIDC = &apitypes.OIDCConfig{IssuerURL: c.IssuerURL, ClientID: c.ClientID, CLIClientID: c.CLIClientID, Scopes: c.Scopes, Prefix: c.Prefix}
	}
	writeJSON(w, http.StatusOK, cfg)
	return nil
}

// whoAmI needs no authorization: it tells callers only who they are, which
// any authenticated user may ask Kubernetes too (SelfSubjectReview).
func (s *Server) whoAmI(w http.ResponseWriter, _ *http.Request, u authenticationv1.UserInfo) error {
	writeJSON(w, http.StatusOK, apitypes.WhoAmI{Username: u.Username, Groups: u.Groups})
	return nil
}

func (s *Server) getOpenAPI(w http.ResponseWriter, _ *http.Request, _ authenticationv1.UserInfo) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi)
	return nil
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	return s.serveList(w, r, u, projectKind, "")
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	name := r.PathValue("project")
	if err := s.authz.check(r.Context(), u, kargoAccess("get", projectKind.resource, "", name)); err != nil {
		return err
	}
	obj, err := s.read(r.Context(), projectKind, "", name)
	if err != nil {
		return err
	}
	return writeObject(w, http.StatusOK, obj, projectKind)
}

func (s *Server) listInProject(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	k, err := kindOf(r.PathValue("kind"))
	if err != nil {
		return err
	}
	return s.serveList(w, r, u, k, r.PathValue("project"))
}

func kindOf(segment string) (*kind, error) {
	k, ok := projectKinds[segment]
	if !ok {
		return nil, notFound("a project holds no %q; its kinds are %s", segment, strings.Join(projectKindSegments(), ", "))
	}
	return k, nil
}

// serveList answers a list, a page of one, or a watch of one.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo, k *kind, namespace string) error {
	ctx := r.Context()
	q := r.URL.Query()
	watch, err := parseBool(q.Get("watch"))
	if err != nil {
		return err
	}
	alias := q.Get("alias")
	if alias != "" && k != freightKind {
		return badRequest("alias selects Freight; %s have no alias", k.resource)
	}
	if (q.Get("stage") != "" || q.Get("since") != "") && k != auditKind {
		return badRequest("stage and since select audit records; %s are not selected by them", k.resource)
	}
	verb := "list"
	if watch {
		verb = "watch"
	}
	acc := kargoAccess(verb, k.resource, namespace, "")
	if err := s.authz.check(ctx, u, acc); err != nil {
		return err
	}
	if watch {
		recheck := func(ctx context.Context) error {
			// The token may have been revoked too: authenticate again.
			u, err := s.authn.authenticate(ctx, r)
			if err != nil {
				return err
			}
			return s.authz.recheck(ctx, u, acc)
		}
		if namespace != "" {
			if err := s.inProject(ctx, namespace); err != nil {
				return err
			}
		}
		return s.watch(w, r, k, namespace, alias, recheck)
	}
	if alias != "" {
		return s.listByAlias(ctx, w, namespace, alias)
	}
	if k == auditKind && (q.Get("stage") != "" || q.Get("since") != "") {
		return s.listAudit(ctx, w, r, namespace)
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	p, err := s.page(ctx, k, namespace, q.Get("continue"), limit)
	if err != nil {
		return err
	}
	if namespace != "" && p.total == 0 {
		if err := s.orMissingProject(ctx, namespace, nil); err != nil {
			return err
		}
	}
	writeList(w, k, p)
	return nil
}

// page returns the page of at most limit objects of kind k in namespace
// that tok (empty for the first page) points at.
func (s *Server) page(ctx context.Context, k *kind, namespace, tok string, limit int) (page, error) {
	list := listID(k, namespace)
	if tok == "" {
		snap, err := s.lists.snapshot(ctx, k, namespace)
		if err != nil {
			return page{}, err
		}
		return cut(snap, list, s.instance, 0, limit), nil
	}
	t, err := decodeContinue(tok)
	if err != nil {
		return page{}, err
	}
	if t.List != list {
		return page{}, badRequest("the continue token belongs to another list; pass it only with the list whose page returned it")
	}
	if t.Server == s.instance {
		if kept := s.lists.retainedSnapshot(k, namespace, t.Snapshot); kept != nil && t.Offset <= len(kept.entries) {
			return cut(kept, list, s.instance, t.Offset, limit), nil
		}
	}
	// The snapshot is gone (or was another replica's): continue in
	// today's list after the last object served.
	snap, err := s.lists.snapshot(ctx, k, namespace)
	if err != nil {
		return page{}, err
	}
	return cut(snap, list, s.instance, snap.after(t.key()), limit), nil
}

func parseBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest("watch must be true or false, not %q", s)
	}
	return b, nil
}

// writeList writes an apitypes.List from the entries' encoded JSON,
// without decoding or re-encoding them.
func writeList(w http.ResponseWriter, k *kind, p page) {
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"kind":"` + k.name + `List","items":[`)
	for i, e := range p.entries {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(e.raw)
	}
	bw.WriteByte(']')
	if p.next != "" {
		tok, _ := json.Marshal(p.next)
		bw.WriteString(`,"continue":`)
		bw.Write(tok)
	}
	bw.WriteString(`,"total":` + strconv.Itoa(p.total) + "}")
	_ = bw.Flush() // a client gone mid-response is no error of the server's
}

func (s *Server) listByAlias(ctx context.Context, w http.ResponseWriter, namespace, alias string) error {
	found, err := s.freightWithAlias(ctx, namespace, alias)
	if err == nil && len(found) == 0 {
		err = s.orMissingProject(ctx, namespace, nil)
	}
	if err != nil {
		return err
	}
	items := make([]json.RawMessage, 0, len(found))
	for i := range found {
		raw, err := encodeObject(&found[i], freightKind)
		if err != nil {
			return err
		}
		items = append(items, raw)
	}
	writeJSON(w, http.StatusOK, apitypes.List{Kind: "FreightList", Items: items, Total: len(items)})
	return nil
}

func (s *Server) getInProject(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("name")
	k, err := kindOf(r.PathValue("kind"))
	if err != nil {
		return err
	}
	if k == freightKind {
		// An alias does not say which Freight it names until it is looked
		// up, so reading by alias takes the right to read all of them.
		authzName := ""
		if isFreightName(name) {
			authzName = name
		}
		if err := s.authz.check(ctx, u, kargoAccess("get", k.resource, project, authzName)); err != nil {
			return err
		}
		f, err := s.resolveFreight(ctx, project, name)
		if err != nil {
			return s.orMissingProject(ctx, project, err)
		}
		return writeObject(w, http.StatusOK, f, k)
	}
	if err := s.authz.check(ctx, u, kargoAccess("get", k.resource, project, name)); err != nil {
		return err
	}
	obj, err := s.read(ctx, k, project, name)
	if err != nil {
		return s.orMissingProject(ctx, project, err)
	}
	return writeObject(w, http.StatusOK, obj, k)
}

// read returns the object from the cache or, when the cache does not hold
// it (yet), from the API server: an object created a moment ago may not
// have reached the cache.
func (s *Server) read(ctx context.Context, k *kind, namespace, name string) (client.Object, error) {
	key := client.ObjectKey{Namespace: namespace, Name: name}
	obj := k.newObject()
	err := s.cache.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = s.direct.Get(ctx, key, obj)
	}
	if apierrors.IsNotFound(err) {
		return nil, notFoundIn(k, namespace, name)
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// inProject returns a 404 naming the project when it does not exist, for a
// request into it that the caller is authorized to make: a mistyped
// project is an error, not an empty list or a missing object inside it.
// Handlers ask only after authorizing the caller, so that someone without
// rights there learns nothing: RBAC grants nothing in a namespace that does
// not exist except through cluster-wide bindings, whose holders may read
// that kind in every project anyway. A project is a Project, or a namespace
// labelled as one (what the admission webhooks accept kargo objects in).
func (s *Server) inProject(ctx context.Context, project string) error {
	err := s.cache.Get(ctx, client.ObjectKey{Name: project}, &kargoapi.Project{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	ns := &corev1.Namespace{}
	err = s.direct.Get(ctx, client.ObjectKey{Name: project}, ns)
	switch {
	case apierrors.IsNotFound(err):
		return notFoundIn(projectKind, "", project)
	case err != nil:
		return fmt.Errorf("read namespace %s: %w", project, err)
	case ns.Labels[kargoapi.ProjectLabelKey] != kargoapi.LabelTrueValue:
		return notFoundIn(projectKind, "", project)
	}
	return nil
}

// orMissingProject returns, in place of err (a 404 of an object in the
// project, or nil for an empty answer), the project's own 404 when the
// project does not exist. Only answers that could mean a missing project
// pay for the look.
func (s *Server) orMissingProject(ctx context.Context, project string, err error) error {
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if perr := s.inProject(ctx, project); perr != nil {
		return perr
	}
	return err
}

// notFoundIn says that an object does not exist and how to list those
// that do.
func notFoundIn(k *kind, namespace, name string) *apiError {
	if !k.namespaced {
		e := notFound("project %q not found; kargo get projects lists them", name)
		e.status.Details = &metav1.StatusDetails{Name: name, Group: kargoapi.GroupVersion.Group, Kind: projectKind.resource}
		return e
	}
	return notFound("%s %q not found in project %q; kargo get %s --project %s lists them", k.name, name, namespace, k.segment, namespace)
}

// resolveFreight returns the Freight ref names: by name when ref has the
// form of a Freight name, by alias otherwise.
func (s *Server) resolveFreight(ctx context.Context, namespace, ref string) (*kargoapi.Freight, error) {
	if isFreightName(ref) {
		obj, err := s.read(ctx, freightKind, namespace, ref)
		if err != nil {
			return nil, err
		}
		return obj.(*kargoapi.Freight), nil
	}
	return s.freightByAlias(ctx, namespace, ref)
}

func (s *Server) freightByAlias(ctx context.Context, namespace, alias string) (*kargoapi.Freight, error) {
	found, err := s.freightWithAlias(ctx, namespace, alias)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, notFound("Freight alias %q not found in project %q; kargo get freight --project %s lists them", alias, namespace, namespace)
	case 1:
		return &found[0], nil
	}
	names := make([]string, len(found))
	for i := range found {
		names[i] = found[i].Name
	}
	return nil, newError(http.StatusConflict, metav1.StatusReasonConflict,
		"Freight alias %q is held by several Freight in project %q (%s); name the Freight instead", alias, namespace, strings.Join(names, ", "))
}

// freightWithAlias returns the Freight of the namespace with alias, from
// the cache's alias index or, when it has none, from the API server.
func (s *Server) freightWithAlias(ctx context.Context, namespace, alias string) ([]kargoapi.Freight, error) {
	if len(validation.IsValidLabelValue(alias)) > 0 {
		return nil, nil // no label, hence no Freight, can hold it
	}
	list := &kargoapi.FreightList{}
	if err := s.cache.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{aliasIndex: alias}); err != nil {
		return nil, err
	}
	if len(list.Items) == 0 {
		// An alias given a moment ago may not have reached the cache.
		if err := s.direct.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{kargoapi.AliasLabelKey: alias}); err != nil {
			return nil, err
		}
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

func writeObject(w http.ResponseWriter, code int, obj client.Object, k *kind) error {
	raw, err := encodeObject(obj, k)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(raw)
	return nil
}
