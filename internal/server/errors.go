package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kargohq/kargo/internal/authz"
)

// apiError is an error the server answers with a Status of its own.
type apiError struct {
	status metav1.Status
}

func (e *apiError) Error() string { return e.status.Message }

// Status lets apierrors treat an apiError like the API server's own.
func (e *apiError) Status() metav1.Status { return e.status }

func newError(code int32, reason metav1.StatusReason, format string, args ...any) *apiError {
	return &apiError{status: metav1.Status{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status:   metav1.StatusFailure,
		Code:     code,
		Reason:   reason,
		Message:  fmt.Sprintf(format, args...),
	}}
}

func badRequest(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, metav1.StatusReasonBadRequest, format, args...)
}

func notFound(format string, args ...any) *apiError {
	return newError(http.StatusNotFound, metav1.StatusReasonNotFound, format, args...)
}

func unauthorized(format string, args ...any) *apiError {
	return newError(http.StatusUnauthorized, metav1.StatusReasonUnauthorized, format, args...)
}

// statusOf turns any error into the Status a caller receives: the server's
// own errors and the Kubernetes API server's pass through with their code;
// anything else is a 500 whose details stay in the server's log.
func statusOf(err error) (metav1.Status, bool) {
	var denied *authz.Denied
	if errors.As(err, &denied) {
		return newError(http.StatusForbidden, metav1.StatusReasonForbidden, "%s", denied.Error()).status, true
	}
	var approveDenied *authz.ApproveDenied
	if errors.As(err, &approveDenied) {
		return newError(http.StatusForbidden, metav1.StatusReasonForbidden, "%s", approveDenied.Error()).status, true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		dropUncheckedRules(&s)
		s.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}
		s.Status = metav1.StatusFailure
		if s.Code == 0 {
			s.Code = http.StatusInternalServerError
		}
		return s, true
	}
	return newError(http.StatusInternalServerError, metav1.StatusReasonInternalError,
		"the kargo API server hit an internal error; its log has the details").status, false
}

// writeError answers with the Status of err, and logs errors that are the
// server's own fault.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	s, known := statusOf(err)
	if !known || s.Code >= http.StatusInternalServerError {
		ctrl.LoggerFrom(r.Context()).Error(err, "request failed", "method", r.Method, "path", r.URL.Path)
	}
	if s.Code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kargo"`)
	}
	writeJSON(w, int(s.Code), &s)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		raw, code = []byte(`{"apiVersion":"v1","kind":"Status","status":"Failure","code":500,"reason":"InternalError","message":"encode the response"}`), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(raw)
}

// uncheckedRules is the cause Kubernetes adds to an object that failed its
// schema's structural checks when its CRD's CEL rules were therefore not
// evaluated. It tells the user nothing to change: the other causes do.
const uncheckedRules = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"

var uncheckedRulesLine = regexp.MustCompile(`(, )?<nil>: Invalid value: "?null"?: ` + regexp.QuoteMeta(uncheckedRules))

// dropUncheckedRules takes the uncheckedRules cause out of s, and its
// `<nil>: Invalid value: null: ...` line out of the message, so that
// what is left says only what to change.
func dropUncheckedRules(s *metav1.Status) {
	if !strings.Contains(s.Message, uncheckedRules) {
		return
	}
	if s.Details != nil {
		causes := s.Details.Causes[:0]
		for _, c := range s.Details.Causes {
			if !strings.Contains(c.Message, uncheckedRules) {
				causes = append(causes, c)
			}
		}
		s.Details.Causes = causes
	}
	// The message lists the causes as "prefix: [a, b, <nil>: ...]", or
	// "prefix: a" when there is one.
	msg := uncheckedRulesLine.ReplaceAllString(s.Message, "")
	if s.Details != nil && len(s.Details.Causes) == 1 {
		if open := strings.LastIndex(msg, ": ["); open >= 0 && strings.HasSuffix(msg, "]") {
			msg = msg[:open+2] + msg[open+3:len(msg)-1]
		}
	}
	s.Message = msg
}
