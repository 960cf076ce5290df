package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

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
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
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
