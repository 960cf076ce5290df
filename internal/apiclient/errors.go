package apiclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Error is an answer of the API server other than 2xx: the Status it sent,
// or one made up from the HTTP status when the body was not a Status (a
// proxy's error page, for example).
type Error struct {
	Status metav1.Status
}

// Error returns the server's message, which is written for users.
func (e *Error) Error() string {
	if e.Status.Message != "" {
		return e.Status.Message
	}
	if e.Status.Reason != "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Status.Reason, e.Status.Code)
	}
	return fmt.Sprintf("HTTP %d", e.Status.Code)
}

// IsNotFound reports whether err is the server saying the object (or the
// project) does not exist.
func IsNotFound(err error) bool {
	return hasReason(err, http.StatusNotFound, metav1.StatusReasonNotFound)
}

// IsForbidden reports whether err is the server refusing the caller an
// action; the message names the missing verb.
func IsForbidden(err error) bool {
	return hasReason(err, http.StatusForbidden, metav1.StatusReasonForbidden)
}

// IsUnauthorized reports whether err is the server not accepting the
// caller's token (missing, expired or revoked).
func IsUnauthorized(err error) bool {
	return hasReason(err, http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
}

// IsConflict reports whether err is the server refusing a write that
// conflicts with the object's current state, or an object that already
// exists.
func IsConflict(err error) bool {
	return hasReason(err, http.StatusConflict, metav1.StatusReasonConflict) ||
		hasReason(err, http.StatusConflict, metav1.StatusReasonAlreadyExists)
}

// StatusOf returns the Status of err when it is an *Error.
func StatusOf(err error) (metav1.Status, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Status, true
	}
	return metav1.Status{}, false
}

func hasReason(err error, code int32, reason metav1.StatusReason) bool {
	s, ok := StatusOf(err)
	if !ok {
		return false
	}
	// Either is enough: the code is what the contract promises, the reason
	// what Kubernetes-style servers are used to setting.
	return s.Code == code || s.Reason == reason
}

// errorFromResponse reads a non-2xx answer into an *Error.
func errorFromResponse(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return errorFromBody(resp.StatusCode, body)
}

func errorFromBody(code int, body []byte) *Error {
	var s metav1.Status
	if err := json.Unmarshal(body, &s); err != nil || (s.Kind != "Status" && s.Message == "" && s.Reason == "") {
		text := strings.TrimSpace(string(body))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		msg := fmt.Sprintf("the kargo API server answered %d %s", code, http.StatusText(code))
		if text != "" {
			msg += ": " + text
		}
		s = metav1.Status{Message: msg}
	}
	if s.Code == 0 {
		s.Code = int32(code)
	}
	if s.Status == "" {
		s.Status = metav1.StatusFailure
	}
	if s.Reason == "" {
		s.Reason = reasonFor(code)
	}
	return &Error{Status: s}
}

// reasonFor is the Status reason the contract pairs with an HTTP code.
func reasonFor(code int) metav1.StatusReason {
	switch code {
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	case http.StatusUnauthorized:
		return metav1.StatusReasonUnauthorized
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusConflict:
		return metav1.StatusReasonConflict
	case http.StatusUnprocessableEntity:
		return metav1.StatusReasonInvalid
	case http.StatusTooManyRequests:
		return metav1.StatusReasonTooManyRequests
	case http.StatusServiceUnavailable:
		return metav1.StatusReasonServiceUnavailable
	}
	if code >= 500 {
		return metav1.StatusReasonInternalError
	}
	return metav1.StatusReasonUnknown
}
