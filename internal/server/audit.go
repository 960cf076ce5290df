package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/audit"
)

// auditNote is what the audit record of one request will say. The route
// fills it from the path; the handler adds what it learns (the Freight an
// alias names, the new alias) through noteOf.
type auditNote struct {
	project string
	action  string
	target  kargoapi.AuditTarget
	details map[string]string
	// withheld is set when the target's name is kept out of the record,
	// and so must be any message that could name it.
	withheld bool
}

type auditKey struct{}

// noteOf returns the request's audit note, or a throwaway one for a request
// that is not audited, so that handlers need not ask.
func noteOf(ctx context.Context) *auditNote {
	if n, ok := ctx.Value(auditKey{}).(*auditNote); ok {
		return n
	}
	return &auditNote{}
}

func (n *auditNote) detail(k, v string) {
	if v == "" {
		return
	}
	if n.details == nil {
		n.details = map[string]string{}
	}
	n.details[k] = v
}

// auditing returns how a route's requests are audited: action on the
// object of kind named by the path value name (and, for Stage actions, its
// Stage).
func auditing(action, kind, name string) func(r *http.Request) *auditNote {
	return func(r *http.Request) *auditNote {
		n := &auditNote{project: r.PathValue("project"), action: action, target: kargoapi.AuditTarget{Kind: kind, Name: r.PathValue(name)}}
		switch kind {
		case "Stage":
			n.target.Stage = n.target.Name
		case "Freight":
			n.target.Freight = n.target.Name
		}
		return n
	}
}

// bufferedWriter holds a response until its audit record is written, so
// that a caller is never told of an action the trail does not hold.
type bufferedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}

// serveAudited runs an audited route's handler, records its outcome and
// then answers.
func (s *Server) serveAudited(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo, rt route) {
	note := rt.audit(r)
	r = r.WithContext(context.WithValue(r.Context(), auditKey{}, note))
	buf := &bufferedWriter{header: w.Header()}
	err := rt.handle(buf, r, u)
	if err != nil {
		writeError(buf, r, err)
	}
	s.record(r.Context(), u, note, outcomeOf(buf.code, err))
	w.WriteHeader(buf.code)
	_, _ = w.Write(buf.body.Bytes())
}

// outcomeOf is the outcome of a request answered with code after err.
func outcomeOf(code int, err error) kargoapi.AuditOutcome {
	if err == nil {
		if code == 0 {
			code = http.StatusOK
		}
		return kargoapi.AuditOutcome{Result: kargoapi.AuditResultSucceeded, Code: int32(code)}
	}
	// What the caller was told: for an internal error, not its details.
	st, _ := statusOf(err)
	out := kargoapi.AuditOutcome{Result: kargoapi.AuditResultFailed, Code: st.Code, Message: st.Message}
	if st.Code == http.StatusForbidden {
		out.Result = kargoapi.AuditResultRefused
	}
	return out
}

// record writes the audit record of a request, with the server's own
// identity, in the project. A refusal is recorded only when the caller may
// read the project's trail themselves: someone with no role in a project
// must not be able to fill its trail (and push the records that matter out
// of its retention) with requests that do nothing. A record that cannot be
// written is logged; the action it records has happened either way.
func (s *Server) record(ctx context.Context, u authenticationv1.UserInfo, n *auditNote, out kargoapi.AuditOutcome) {
	if n.project == "" {
		return
	}
	ctx = context.WithoutCancel(ctx)
	log := ctrl.LoggerFrom(ctx)
	if out.Result == kargoapi.AuditResultRefused {
		if err := s.authz.check(ctx, u, kargoAccess("list", auditKind.resource, n.project, "")); err != nil {
			var refused *apiError
			if !errors.As(err, &refused) {
				log.Error(err, "decide whether to record a refusal", "user", u.Username, "project", n.project, "action", n.action)
			}
			return
		}
	}
	if n.withheld && out.Message != "" {
		out.Message = "the message is withheld: it may name the object"
	}
	rec := audit.New(n.project, u, n.action, n.target, n.details, out, time.Now())
	if err := s.direct.Create(ctx, rec); err != nil {
		log.Error(err, "write audit record", "user", u.Username, "project", n.project, "action", n.action,
			"kind", n.target.Kind, "name", n.target.Name, "result", out.Result)
		return
	}
	s.awaitCache(ctx, rec)
}

// isProject says whether namespace is a Project's, whose trail may hold
// records.
func (s *Server) isProject(ctx context.Context, namespace string) bool {
	if namespace == "" {
		return false
	}
	_, err := s.read(ctx, projectKind, "", namespace)
	return err == nil
}

// manifestNote is the audit note of one object of a manifest: only objects
// in a project are recorded, and objects of other groups than kargo's
// without their name (every viewer of the project reads the trail; RBAC
// may not let them know the names of its Secrets or RoleBindings). A
// Promotion's record names its Stage and Freight.
func (s *Server) manifestNote(ctx context.Context, op manifestOp, obj *unstructured.Unstructured) *auditNote {
	if !s.isProject(ctx, obj.GetNamespace()) {
		return &auditNote{}
	}
	n := &auditNote{project: obj.GetNamespace(), action: string(op), target: kargoapi.AuditTarget{Kind: obj.GetKind()}}
	gv := obj.GroupVersionKind().GroupVersion()
	if gv.Group != kargoapi.GroupVersion.Group {
		n.withheld = true
		return n
	}
	n.target.Name = obj.GetName()
	switch obj.GetKind() {
	case "Stage":
		n.target.Stage = obj.GetName()
	case "Freight":
		n.target.Freight = obj.GetName()
	case "Promotion":
		n.target.Stage, _, _ = unstructured.NestedString(obj.Object, "spec", "stage")
		n.target.Freight, _, _ = unstructured.NestedString(obj.Object, "spec", "freight")
	}
	return n
}

// auditFilter reads the stage and since parameters of a list of audit
// records.
func auditFilter(r *http.Request, now time.Time) (audit.Filter, error) {
	q := r.URL.Query()
	since, err := audit.ParseSince(q.Get("since"), now)
	if err != nil {
		return audit.Filter{}, badRequest("%v", err)
	}
	return audit.Filter{Stage: q.Get("stage"), Since: since}, nil
}

// newestRecorded orders audit records newest first by when the action
// ended.
func newestRecorded(obj client.Object) sortKey {
	rec, ok := obj.(*kargoapi.AuditRecord)
	if !ok {
		return newestCreated(obj)
	}
	return sortKey{primary: unixNano(rec.Time.Time), secondary: obj.GetCreationTimestamp().UnixNano(), name: obj.GetName()}
}

// listAudit answers a page of the project's audit records selected by
// stage and since, newest first. Pages are cut as every list's are (limit,
// continue), but continue from the last record served rather than from an
// offset into a snapshot, since an offset counts records the filter left
// out; a token of the unfiltered list continues here too, and one of a
// filtered list there. Total counts every record the filter selects.
func (s *Server) listAudit(ctx context.Context, w http.ResponseWriter, r *http.Request, namespace string) error {
	q := r.URL.Query()
	f, err := auditFilter(r, time.Now())
	if err != nil {
		return err
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	snap, err := s.lists.snapshot(ctx, auditKind, namespace)
	if err != nil {
		return err
	}
	start := 0
	if tok := q.Get("continue"); tok != "" {
		t, err := decodeContinue(tok)
		if err != nil {
			return err
		}
		if t.List != listID(auditKind, namespace) {
			return badRequest("the continue token belongs to another list; pass it only with the list whose page returned it")
		}
		start = snap.after(t.key())
	}
	var p page
	for i, e := range snap.entries {
		rec, ok := e.obj.(*kargoapi.AuditRecord)
		if !ok {
			continue
		}
		if !f.Since.IsZero() && rec.Time.Time.Before(f.Since) {
			break // newest first: the rest are older still
		}
		if !f.Matches(rec) {
			continue
		}
		p.total++
		if i < start {
			continue
		}
		if len(p.entries) == limit {
			if p.next == "" {
				last := p.entries[len(p.entries)-1].key
				p.next = continueToken{Server: s.instance, List: listID(auditKind, namespace),
					Primary: last.primary, Secondary: last.secondary, Name: last.name}.encode()
			}
			continue
		}
		p.entries = append(p.entries, e)
	}
	if p.total == 0 {
		if err := s.orMissingProject(ctx, namespace, nil); err != nil {
			return err
		}
	}
	writeList(w, auditKind, p)
	return nil
}
