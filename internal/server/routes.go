package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// handlerFunc serves one route for an authenticated caller; a returned
// error becomes the Status of the response.
type handlerFunc func(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error

// route is one endpoint of the API.
type route struct {
	method string
	// pattern is an http.ServeMux pattern without the method.
	pattern string
	// public routes need no token: they reveal nothing about the cluster.
	public bool
	handle handlerFunc
	// audit, when set, makes the route's requests audited: it returns the
	// note of the record each request leaves in its project's trail.
	audit func(r *http.Request) *auditNote
}

// routeTable lists every endpoint. The mux matches the path only, and the
// routes of a path answer a wrong method themselves, with a Status like
// every other error.
func (s *Server) routeTable() []route {
	return append([]route{
		{method: http.MethodGet, pattern: "/api/v1/version", public: true, handle: s.getVersion},
		{method: http.MethodGet, pattern: "/api/v1/auth/config", public: true, handle: s.getAuthConfig},
		{method: http.MethodGet, pattern: "/api/v1/whoami", handle: s.whoAmI},
		{method: http.MethodGet, pattern: "/api/v1/projects", handle: s.listProjects},
		{method: http.MethodGet, pattern: "/api/v1/projects/{project}", handle: s.getProject},
		{method: http.MethodGet, pattern: "/api/v1/projects/{project}/{kind}", handle: s.listInProject},
		{method: http.MethodGet, pattern: "/api/v1/projects/{project}/{kind}/{name}", handle: s.getInProject},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/stages/{stage}/promote", handle: s.promote,
			audit: auditing(kargoapi.AuditActionPromote, "Stage", "stage")},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/freight/{name}/approve", handle: s.approve,
			audit: auditing(kargoapi.AuditActionApprove, "Freight", "name")},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/promotions/{name}/abort", handle: s.abortPromotion,
			audit: auditing(kargoapi.AuditActionAbortPromotion, "Promotion", "name")},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/freight/{name}/alias", handle: s.setAlias,
			audit: auditing(kargoapi.AuditActionAlias, "Freight", "name")},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/warehouses/{name}/refresh", handle: s.refresher(warehouseKind),
			audit: auditing(kargoapi.AuditActionRefresh, "Warehouse", "name")},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/stages/{name}/refresh", handle: s.refresher(stageKind),
			audit: auditing(kargoapi.AuditActionRefresh, "Stage", "name")},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/stages/{name}/verify", handle: s.verify,
			audit: auditing(kargoapi.AuditActionVerify, "Stage", "name")},
		{method: http.MethodGet, pattern: "/api/v1/projects/{project}/promotions/{name}/commits", handle: s.promotionCommits},
		{method: http.MethodGet, pattern: "/api/v1/projects/{project}/access", handle: s.getAccess},
		{method: http.MethodGet, pattern: "/api/v1/projects/{project}/gates", handle: s.getGates},
		{method: http.MethodGet, pattern: "/api/v1/projects/{project}/roles", handle: s.listRoles},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/roles", handle: s.createRole},
		{method: http.MethodDelete, pattern: "/api/v1/projects/{project}/roles/{name}", handle: s.deleteRole},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/roles/{name}/grant", handle: s.grant},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/roles/{name}/revoke", handle: s.revoke},
		{method: http.MethodGet, pattern: "/api/v1/projects/{project}/tokens", handle: s.listTokens},
		{method: http.MethodPost, pattern: "/api/v1/projects/{project}/tokens", handle: s.createToken},
		{method: http.MethodDelete, pattern: "/api/v1/projects/{project}/tokens/{name}", handle: s.deleteToken},
		{method: http.MethodPost, pattern: "/api/v1/apply", handle: s.manifests(opApply)},
		{method: http.MethodPost, pattern: "/api/v1/create", handle: s.manifests(opCreate)},
		{method: http.MethodPost, pattern: "/api/v1/delete", handle: s.manifests(opDelete)},
		{method: http.MethodGet, pattern: "/openapi.json", public: true, handle: s.getOpenAPI},
	}, s.holdRoutes()...)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	byPattern := map[string][]route{}
	var patterns []string
	for _, rt := range s.routeTable() {
		if byPattern[rt.pattern] == nil {
			patterns = append(patterns, rt.pattern)
		}
		byPattern[rt.pattern] = append(byPattern[rt.pattern], rt)
	}
	for _, p := range patterns {
		mux.Handle(p, instrument(p, s.serve(byPattern[p]...)))
	}
	// Probes: /healthz answers once the server runs; it is ready to serve
	// when its cache has synced (until then the API answers 503). /readyz
	// also asks the Kubernetes API server, as the server itself: a replica
	// whose own credentials or connection fail can serve nothing but
	// errors, and takes no traffic.
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-s.synced:
			w.WriteHeader(http.StatusOK)
		default:
			http.Error(w, "cache not synced yet", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.readiness(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("/", instrument(otherRoute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every other page is the web UI's; the API's own paths never are.
		if s.ui != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !strings.HasPrefix(r.URL.Path, "/api/") {
			s.ui.ServeHTTP(w, r)
			return
		}
		writeError(w, r, notFound("no endpoint %s %s; GET /openapi.json lists them", r.Method, r.URL.Path))
	})))
	return mux
}

// serve authenticates the caller of the route of the request's method
// among routes (of one path) and runs it. Authorization is each handler's
// first step, since what to ask depends on the endpoint.
func (s *Server) serve(routes ...route) http.Handler {
	var methods []string
	for _, rt := range routes {
		methods = append(methods, rt.method)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rt route
		found := false
		for _, candidate := range routes {
			if r.Method == candidate.method || (candidate.method == http.MethodGet && r.Method == http.MethodHead) {
				rt, found = candidate, true
				break
			}
		}
		if !found {
			allowed := strings.Join(methods, ", ")
			w.Header().Set("Allow", allowed)
			writeError(w, r, newError(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
				"%s %s is not an endpoint; use %s", r.Method, r.URL.Path, strings.Join(methods, " or ")))
			return
		}
		var u authenticationv1.UserInfo
		if !rt.public {
			select {
			case <-s.synced:
			default:
				writeError(w, r, newError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
					"the kargo API server is starting; try again in a few seconds"))
				return
			}
			var err error
			if u, err = s.authn.authenticate(r.Context(), r); err != nil {
				writeError(w, r, err)
				return
			}
		}
		if rt.audit != nil {
			s.serveAudited(w, r, u, rt)
			return
		}
		if err := rt.handle(w, r, u); err != nil {
			writeError(w, r, err)
		}
	})
}

// maxBody bounds request bodies; manifests are the largest.
const maxBody = 8 << 20

// decodeBody reads the JSON body of r into v; an empty body leaves v as it
// is, for requests whose fields are all optional.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.As(err, &tooLarge):
			return newError(http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge,
				"the request body is larger than %d MiB; split the manifests", maxBody>>20)
		}
		return badRequest("the request body is not the JSON this endpoint takes (see /openapi.json): %v", err)
	}
	return nil
}
