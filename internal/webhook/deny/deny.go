// Package deny builds the admission responses kargo's webhooks refuse
// requests with. The API server passes the HTTP code and reason on to the
// client, so a conflict reads as a 409 and a missing right as a 403.
package deny

import (
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Forbidden refuses a request the user has no right to make (403).
func Forbidden(msg string) admission.Response {
	return respond(http.StatusForbidden, metav1.StatusReasonForbidden, msg)
}

// Conflict refuses a request that clashes with another object (409).
func Conflict(msg string) admission.Response {
	return respond(http.StatusConflict, metav1.StatusReasonConflict, msg)
}

// Invalid refuses a request whose object is wrong in itself (422).
func Invalid(msg string) admission.Response {
	return respond(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, msg)
}

// Error refuses a request the webhook could not decide, such as when the
// API server could not be read (500); failing closed keeps the rules.
func Error(err error) admission.Response {
	return respond(http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
}

// BadRequest refuses a request the webhook cannot decode (400).
func BadRequest(err error) admission.Response {
	return respond(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
}

func respond(code int32, reason metav1.StatusReason, msg string) admission.Response {
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		Allowed: false,
		Result:  &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg},
	}}
}
