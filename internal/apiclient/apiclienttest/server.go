// Package apiclienttest is a stand-in for kargo's API server that speaks the
// wire format of internal/apitypes: paths, bearer tokens, JSON bodies, pages,
// server-sent events and Status errors. It exists to test the client's wire
// handling (internal/apiclient) and the CLI's use of it (internal/cli)
// before, and independently of, the real server.
//
// It is not the server: it keeps objects in memory, checks only that the
// token matches, and does none of kargo's authorization, admission or
// controller logic. The end-to-end tests of the CLI against the real API
// server (internal/server, with a real kube-apiserver behind it) come with
// that server; nothing here should be read as evidence that the two agree
// beyond the wire format.
package apiclienttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/controller/warehouse"
)

// RefreshAnnotationKey is where the fake server, like the real one, puts the
// token of a refresh request: the annotation the controllers act on.
const RefreshAnnotationKey = warehouse.RefreshAnnotationKey

// Server is an in-memory stand-in for the API server, over HTTP on
// loopback.
type Server struct {
	*httptest.Server

	// Token is the only bearer token the server accepts.
	Token string
	// User is who WhoAmI says the caller is.
	User apitypes.WhoAmI
	// PageSize is the page size when a request gives no limit.
	PageSize int

	mu        sync.Mutex
	objects   []client.Object // in the order lists return them
	version   int
	overrides map[string]http.HandlerFunc
	watchers  map[*watcher]bool
	requests  []string
	done      chan struct{}
}

type watcher struct {
	kind    apiclient.Kind
	project string
	events  chan apitypes.WatchEvent
}

// New starts a plain-HTTP server that accepts token, stopped when the test
// ends.
func New(t testing.TB, token string) *Server {
	s := newServer(token)
	s.Server = httptest.NewServer(s.routes())
	t.Cleanup(s.stop)
	return s
}

// NewTLS starts an HTTPS server with a certificate of httptest's own CA
// (s.Certificate()).
func NewTLS(t testing.TB, token string) *Server {
	s := newServer(token)
	s.Server = httptest.NewTLSServer(s.routes())
	t.Cleanup(s.stop)
	return s
}

func newServer(token string) *Server {
	return &Server{
		Token:     token,
		User:      apitypes.WhoAmI{Username: "alice", Groups: []string{"developers"}},
		PageSize:  500,
		overrides: map[string]http.HandlerFunc{},
		watchers:  map[*watcher]bool{},
		done:      make(chan struct{}),
	}
}

func (s *Server) stop() {
	close(s.done)
	s.Close()
}

// Add stores objects, as a controller or a user creating them would, and
// tells watchers. Lists return objects in the order they were added.
func (s *Server) Add(objs ...client.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range objs {
		s.put(o.DeepCopyObject().(client.Object), "ADDED")
	}
}

// Update replaces a stored object, as a controller writing status would,
// and tells watchers.
func (s *Server) Update(obj client.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(obj.DeepCopyObject().(client.Object), "MODIFIED")
}

// Replay sends every stored object of kind in project to its watchers as
// ADDED, unchanged, as servers that start a watch with the current state
// do.
func (s *Server) Replay(kind apiclient.Kind, project string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.objects {
		if KindOf(o) == kind && o.GetNamespace() == project {
			s.notify(kind, project, "ADDED", o)
		}
	}
}

// Object returns a copy of the stored object of kind, or nil.
func (s *Server) Object(kind apiclient.Kind, project, name string) client.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.find(kind, project, name); i >= 0 {
		return s.objects[i].DeepCopyObject().(client.Object)
	}
	return nil
}

// Objects returns copies of the stored objects of kind in project, in list
// order.
func (s *Server) Objects(kind apiclient.Kind, project string) []client.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []client.Object
	for _, o := range s.objects {
		if KindOf(o) == kind && o.GetNamespace() == project {
			out = append(out, o.DeepCopyObject().(client.Object))
		}
	}
	return out
}

// Override answers requests to route ("GET /api/v1/whoami") with h instead
// of the server's own handler.
func (s *Server) Override(route string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.overrides[route] = h
}

// Refuse answers requests to route with a Status of code and message, as
// the real server refuses a request.
func (s *Server) Refuse(route string, code int, message string) {
	s.Override(route, func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, code, message, nil)
	})
}

// Requests returns each request received so far as "METHOD /path?query".
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Watchers returns how many watches are open, so that a test can wait for
// one before changing objects.
func (s *Server) Watchers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.watchers)
}

// KindOf returns the API kind of a kargo object.
func KindOf(obj client.Object) apiclient.Kind {
	switch obj.(type) {
	case *kargoapi.Project:
		return apiclient.Projects
	case *kargoapi.Warehouse:
		return apiclient.Warehouses
	case *kargoapi.Stage:
		return apiclient.Stages
	case *kargoapi.Freight:
		return apiclient.Freight
	case *kargoapi.Promotion:
		return apiclient.Promotions
	case *kargoapi.PromotionPolicy:
		return apiclient.PromotionPolicies
	}
	panic(fmt.Sprintf("apiclienttest: %T is not a kargo kind", obj))
}

// newObject returns an empty object of a kind named as in manifests.
func newObject(kind string) (client.Object, bool) {
	switch kind {
	case "Project":
		return &kargoapi.Project{}, true
	case "Warehouse":
		return &kargoapi.Warehouse{}, true
	case "Stage":
		return &kargoapi.Stage{}, true
	case "Freight":
		return &kargoapi.Freight{}, true
	case "Promotion":
		return &kargoapi.Promotion{}, true
	case "PromotionPolicy":
		return &kargoapi.PromotionPolicy{}, true
	}
	return nil, false
}

// put stores obj (the caller holds mu) and tells watchers.
func (s *Server) put(obj client.Object, event string) {
	s.version++
	obj.SetResourceVersion(strconv.Itoa(s.version))
	kind := KindOf(obj)
	project := obj.GetNamespace()
	if i := s.find(kind, project, obj.GetName()); i >= 0 {
		s.objects[i] = obj
	} else {
		s.objects = append(s.objects, obj)
	}
	s.notify(kind, project, event, obj)
}

func (s *Server) remove(i int) {
	obj := s.objects[i]
	s.objects = slices.Delete(s.objects, i, i+1)
	s.notify(KindOf(obj), obj.GetNamespace(), "DELETED", obj)
}

func (s *Server) notify(kind apiclient.Kind, project, event string, obj client.Object) {
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	for w := range s.watchers {
		if w.kind == kind && w.project == project {
			// Watchers have room for many events; a test that lets one
			// fill up has stopped reading anyway.
			select {
			case w.events <- apitypes.WatchEvent{Type: event, Object: b}:
			default:
			}
		}
	}
}

func (s *Server) find(kind apiclient.Kind, project, name string) int {
	for i, o := range s.objects {
		if KindOf(o) == kind && o.GetNamespace() == project && o.GetName() == name {
			return i
		}
	}
	return -1
}

// findFreight finds Freight by name or alias, as the real server's GET does.
func (s *Server) findFreight(project, nameOrAlias string) int {
	if i := s.find(apiclient.Freight, project, nameOrAlias); i >= 0 {
		return i
	}
	for i, o := range s.objects {
		if f, ok := o.(*kargoapi.Freight); ok && f.Namespace == project && aliasOf(f) == nameOrAlias {
			return i
		}
	}
	return -1
}

func aliasOf(f *kargoapi.Freight) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Labels[kargoapi.AliasLabelKey]
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, apitypes.Version{Version: "v0.0.0-test", GoVersion: "go1.26"})
	})
	mux.HandleFunc("GET /api/v1/whoami", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.User)
	})
	mux.HandleFunc("GET /api/v1/projects", func(w http.ResponseWriter, r *http.Request) {
		s.list(w, r, apiclient.Projects, "")
	})
	mux.HandleFunc("GET /api/v1/projects/{project}", func(w http.ResponseWriter, r *http.Request) {
		s.get(w, apiclient.Projects, "", r.PathValue("project"))
	})
	mux.HandleFunc("GET /api/v1/projects/{project}/{kind}", func(w http.ResponseWriter, r *http.Request) {
		kind, ok := s.projectKind(w, r)
		if !ok {
			return
		}
		if r.URL.Query().Get("watch") == "true" {
			s.watch(w, r, kind, r.PathValue("project"))
			return
		}
		s.list(w, r, kind, r.PathValue("project"))
	})
	mux.HandleFunc("GET /api/v1/projects/{project}/{kind}/{name}", func(w http.ResponseWriter, r *http.Request) {
		kind, ok := s.projectKind(w, r)
		if !ok {
			return
		}
		s.get(w, kind, r.PathValue("project"), r.PathValue("name"))
	})
	mux.HandleFunc("POST /api/v1/projects/{project}/stages/{name}/promote", s.promote)
	mux.HandleFunc("POST /api/v1/projects/{project}/freight/{name}/approve", s.approve)
	mux.HandleFunc("POST /api/v1/projects/{project}/freight/{name}/alias", s.alias)
	mux.HandleFunc("POST /api/v1/projects/{project}/warehouses/{name}/refresh", func(w http.ResponseWriter, r *http.Request) {
		s.annotate(w, r, apiclient.Warehouses, RefreshAnnotationKey)
	})
	mux.HandleFunc("POST /api/v1/projects/{project}/stages/{name}/refresh", func(w http.ResponseWriter, r *http.Request) {
		s.annotate(w, r, apiclient.Stages, RefreshAnnotationKey)
	})
	mux.HandleFunc("POST /api/v1/projects/{project}/stages/{name}/verify", func(w http.ResponseWriter, r *http.Request) {
		var req apitypes.VerifyRequest
		if !readJSON(w, r, &req) {
			return
		}
		key := kargoapi.ReverifyAnnotationKey
		if req.Abort {
			key = kargoapi.AbortVerificationAnnotationKey
		}
		s.annotate(w, r, apiclient.Stages, key)
	})
	for _, verb := range []string{"apply", "create", "delete"} {
		mux.HandleFunc("POST /api/v1/"+verb, func(w http.ResponseWriter, r *http.Request) {
			s.manifests(w, r, verb)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		route := r.Method + " " + r.URL.Path
		entry := route
		if r.URL.RawQuery != "" {
			entry += "?" + r.URL.RawQuery
		}
		s.requests = append(s.requests, entry)
		override := s.overrides[route]
		s.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+s.Token {
			writeStatus(w, http.StatusUnauthorized, "the token is missing, expired or not valid", nil)
			return
		}
		if override != nil {
			override(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) projectKind(w http.ResponseWriter, r *http.Request) (apiclient.Kind, bool) {
	kind := apiclient.Kind(r.PathValue("kind"))
	switch kind {
	case apiclient.Warehouses, apiclient.Stages, apiclient.Freight, apiclient.Promotions, apiclient.PromotionPolicies:
	default:
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("no kind %q; the kinds are warehouses, stages, freight, promotions and promotionpolicies", kind), nil)
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.find(apiclient.Projects, "", r.PathValue("project")) < 0 {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("project %q not found", r.PathValue("project")),
			&metav1.StatusDetails{Kind: "projects", Name: r.PathValue("project")})
		return "", false
	}
	return kind, true
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, kind apiclient.Kind, project string) {
	q := r.URL.Query()
	limit := s.PageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeStatus(w, http.StatusBadRequest, "limit must be a positive number", nil)
			return
		}
		limit = n
	}
	start := 0
	if v := q.Get("continue"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeStatus(w, http.StatusBadRequest, "the continue token is not valid; list again from the start", nil)
			return
		}
		start = n
	}
	alias := q.Get("alias")
	s.mu.Lock()
	var all []client.Object
	for _, o := range s.objects {
		if KindOf(o) != kind || o.GetNamespace() != project {
			continue
		}
		if f, ok := o.(*kargoapi.Freight); alias != "" && (!ok || aliasOf(f) != alias) {
			continue
		}
		all = append(all, o.DeepCopyObject().(client.Object))
	}
	s.mu.Unlock()
	list := apitypes.List{Kind: listKind(kind), Items: []json.RawMessage{}, Total: len(all)}
	end := min(start+limit, len(all))
	for _, o := range all[min(start, len(all)):end] {
		// Items come without apiVersion and kind, as Kubernetes lists
		// them: clients must not depend on them.
		b, err := json.Marshal(withoutTypeMeta(o))
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		list.Items = append(list.Items, b)
	}
	if end < len(all) {
		list.Continue = strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, list)
}

func listKind(kind apiclient.Kind) string {
	switch kind {
	case apiclient.Projects:
		return "ProjectList"
	case apiclient.Warehouses:
		return "WarehouseList"
	case apiclient.Stages:
		return "StageList"
	case apiclient.Freight:
		return "FreightList"
	case apiclient.Promotions:
		return "PromotionList"
	}
	return "PromotionPolicyList"
}

func withoutTypeMeta(o client.Object) client.Object {
	o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	return o
}

// withTypeMeta sets apiVersion and kind, as Kubernetes does for one object.
func withTypeMeta(o client.Object) client.Object {
	kind := strings.TrimSuffix(listKind(KindOf(o)), "List")
	o.GetObjectKind().SetGroupVersionKind(kargoapi.GroupVersion.WithKind(kind))
	return o
}

func (s *Server) get(w http.ResponseWriter, kind apiclient.Kind, project, name string) {
	s.mu.Lock()
	i := s.find(kind, project, name)
	if kind == apiclient.Freight {
		i = s.findFreight(project, name)
	}
	var obj client.Object
	if i >= 0 {
		obj = s.objects[i].DeepCopyObject().(client.Object)
	}
	s.mu.Unlock()
	if obj == nil {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("%s %q not found", kind, name), &metav1.StatusDetails{Kind: string(kind), Name: name})
		return
	}
	writeJSON(w, http.StatusOK, withTypeMeta(obj))
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, kind apiclient.Kind, project string) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeStatus(w, http.StatusInternalServerError, "streaming is not supported", nil)
		return
	}
	wt := &watcher{kind: kind, project: project, events: make(chan apitypes.WatchEvent, 256)}
	s.mu.Lock()
	s.watchers[wt] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, wt)
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	// A comment first, as servers send to keep connections open: the
	// client must skip it.
	fmt.Fprint(w, ": watching\n\n")
	flusher.Flush()
	for {
		select {
		case ev := <-wt.events:
			b, err := json.Marshal(ev)
			if err != nil {
				return
			}
			fmt.Fprintf(w, "data: %s\n\n", b)
			flusher.Flush()
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

func (s *Server) promote(w http.ResponseWriter, r *http.Request) {
	var req apitypes.PromoteRequest
	if !readJSON(w, r, &req) {
		return
	}
	project, stage := r.PathValue("project"), r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.find(apiclient.Stages, project, stage) < 0 {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("stages %q not found", stage), &metav1.StatusDetails{Kind: "stages", Name: stage})
		return
	}
	ref := req.Freight
	if ref == "" {
		ref = req.FreightAlias
	}
	i := s.findFreight(project, ref)
	if i < 0 {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("freight %q not found", ref), &metav1.StatusDetails{Kind: "freight", Name: ref})
		return
	}
	p := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%06d", stage, s.version+1), Namespace: project},
		Spec:       kargoapi.PromotionSpec{Stage: stage, Freight: s.objects[i].GetName()},
		Status:     kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhasePending},
	}
	s.put(p, "ADDED")
	writeJSON(w, http.StatusCreated, withTypeMeta(p.DeepCopy()))
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request) {
	var req apitypes.ApproveRequest
	if !readJSON(w, r, &req) {
		return
	}
	project := r.PathValue("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(apiclient.Freight, project, r.PathValue("name"))
	if i < 0 {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("freight %q not found", r.PathValue("name")), &metav1.StatusDetails{Kind: "freight", Name: r.PathValue("name")})
		return
	}
	if s.find(apiclient.Stages, project, req.Stage) < 0 {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("stages %q not found", req.Stage), &metav1.StatusDetails{Kind: "stages", Name: req.Stage})
		return
	}
	f := s.objects[i].DeepCopyObject().(*kargoapi.Freight)
	if f.Status.ApprovedFor == nil {
		f.Status.ApprovedFor = map[string]kargoapi.ApprovedStage{}
	}
	f.Status.ApprovedFor[req.Stage] = kargoapi.ApprovedStage{}
	s.put(f, "MODIFIED")
	writeJSON(w, http.StatusOK, withTypeMeta(f.DeepCopy()))
}

func (s *Server) alias(w http.ResponseWriter, r *http.Request) {
	var req apitypes.AliasRequest
	if !readJSON(w, r, &req) {
		return
	}
	project := r.PathValue("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(apiclient.Freight, project, r.PathValue("name"))
	if i < 0 {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("freight %q not found", r.PathValue("name")), &metav1.StatusDetails{Kind: "freight", Name: r.PathValue("name")})
		return
	}
	if j := s.findFreight(project, req.Alias); j >= 0 && j != i {
		writeStatus(w, http.StatusConflict, fmt.Sprintf("alias %q is already used by Freight %s", req.Alias, s.objects[j].GetName()), nil)
		return
	}
	f := s.objects[i].DeepCopyObject().(*kargoapi.Freight)
	f.Alias = req.Alias
	if f.Labels == nil {
		f.Labels = map[string]string{}
	}
	f.Labels[kargoapi.AliasLabelKey] = req.Alias
	s.put(f, "MODIFIED")
	writeJSON(w, http.StatusOK, withTypeMeta(f.DeepCopy()))
}

// annotate sets key on the object of the URL to a new token and answers
// with the object, as refresh and verify do.
func (s *Server) annotate(w http.ResponseWriter, r *http.Request, kind apiclient.Kind, key string) {
	project, name := r.PathValue("project"), r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(kind, project, name)
	if i < 0 {
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("%s %q not found", kind, name), &metav1.StatusDetails{Kind: string(kind), Name: name})
		return
	}
	obj := s.objects[i].DeepCopyObject().(client.Object)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[key] = fmt.Sprintf("token-%d", s.version+1)
	obj.SetAnnotations(ann)
	s.put(obj, "MODIFIED")
	writeJSON(w, http.StatusOK, withTypeMeta(obj.DeepCopyObject().(client.Object)))
}

func (s *Server) manifests(w http.ResponseWriter, r *http.Request, verb string) {
	var req apitypes.ManifestRequest
	if !readJSON(w, r, &req) {
		return
	}
	var docs []client.Object
	for _, doc := range splitDocuments(req.Manifests) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			writeStatus(w, http.StatusBadRequest, fmt.Sprintf("manifest %d is not YAML or JSON: %v", len(docs)+1, err), nil)
			return
		}
		obj, ok := newObject(tm.Kind)
		if !ok || tm.APIVersion != kargoapi.GroupVersion.String() {
			writeStatus(w, http.StatusBadRequest, fmt.Sprintf("manifest %d: %s %s is not a kargo kind", len(docs)+1, tm.APIVersion, tm.Kind), nil)
			return
		}
		if err := yaml.Unmarshal([]byte(doc), obj); err != nil {
			writeStatus(w, http.StatusBadRequest, fmt.Sprintf("manifest %d: %v", len(docs)+1, err), nil)
			return
		}
		docs = append(docs, obj)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var result apitypes.ManifestResult
	for _, obj := range docs {
		res := apitypes.ObjectResult{Kind: obj.GetObjectKind().GroupVersionKind().Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
		i := s.find(KindOf(obj), obj.GetNamespace(), obj.GetName())
		switch {
		case verb == "delete" && i < 0:
			res.Error = status(http.StatusNotFound, fmt.Sprintf("%s %q not found", KindOf(obj), obj.GetName()), nil)
		case verb == "delete":
			s.remove(i)
			res.Action = "deleted"
		case verb == "create" && i >= 0:
			res.Error = status(http.StatusConflict, fmt.Sprintf("%s %q already exists", KindOf(obj), obj.GetName()), nil)
			res.Error.Reason = metav1.StatusReasonAlreadyExists
		case i >= 0:
			res.Action = "configured"
			s.put(obj, "MODIFIED")
		default:
			res.Action = "created"
			s.put(obj, "ADDED")
		}
		result.Results = append(result.Results, res)
	}
	writeJSON(w, http.StatusOK, result)
}

// splitDocuments splits a YAML stream at "---" lines and drops empty
// documents.
func splitDocuments(s string) []string {
	var docs []string
	var cur strings.Builder
	flush := func() {
		if strings.TrimSpace(cur.String()) != "" {
			docs = append(docs, cur.String())
		}
		cur.Reset()
	}
	for line := range strings.Lines(s) {
		if strings.TrimRight(line, " \t\r\n") == "---" {
			flush()
			continue
		}
		cur.WriteString(line)
	}
	flush()
	return docs
}

func readJSON(w http.ResponseWriter, r *http.Request, into any) bool {
	if err := json.NewDecoder(r.Body).Decode(into); err != nil {
		writeStatus(w, http.StatusBadRequest, fmt.Sprintf("the request body is not valid JSON: %v", err), nil)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func status(code int, message string, details *metav1.StatusDetails) *metav1.Status {
	reasons := map[int]metav1.StatusReason{
		http.StatusBadRequest:          metav1.StatusReasonBadRequest,
		http.StatusUnauthorized:        metav1.StatusReasonUnauthorized,
		http.StatusForbidden:           metav1.StatusReasonForbidden,
		http.StatusNotFound:            metav1.StatusReasonNotFound,
		http.StatusConflict:            metav1.StatusReasonConflict,
		http.StatusUnprocessableEntity: metav1.StatusReasonInvalid,
	}
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reasons[code],
		Details:  details,
		Code:     int32(code),
	}
}

func writeStatus(w http.ResponseWriter, code int, message string, details *metav1.StatusDetails) {
	writeJSON(w, code, status(code, message, details))
}
