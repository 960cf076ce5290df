package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NotificationEventType is a kind of event a NotificationSubscription
// delivers.
//
// +kubebuilder:validation:Enum=FreightCreated;PromotionStarted;PromotionSucceeded;PromotionFailed;PromotionWaitingForApproval;PromotionAborted;VerificationFailed;HoldSet
type NotificationEventType string

const (
	// NotificationFreightCreated is a new Freight in the project, from a
	// Warehouse, a Stage's own subscriptions or a user.
	NotificationFreightCreated NotificationEventType = "FreightCreated"
	// NotificationPromotionStarted is a Promotion that began running.
	NotificationPromotionStarted NotificationEventType = "PromotionStarted"
	// NotificationPromotionSucceeded is a Promotion that succeeded.
	NotificationPromotionSucceeded NotificationEventType = "PromotionSucceeded"
	// NotificationPromotionFailed is a Promotion that failed or erred.
	NotificationPromotionFailed NotificationEventType = "PromotionFailed"
	// NotificationPromotionWaitingForApproval is a Promotion that waits
	// because its Stage's approval policies are not met; its message says
	// what is missing.
	NotificationPromotionWaitingForApproval NotificationEventType = "PromotionWaitingForApproval"
	// NotificationPromotionAborted is a Promotion that someone aborted, or
	// that a newer auto-promotion replaced.
	NotificationPromotionAborted NotificationEventType = "PromotionAborted"
	// NotificationVerificationFailed is a verification of a Stage's Freight
	// that failed or could not be made.
	NotificationVerificationFailed NotificationEventType = "VerificationFailed"
	// NotificationHoldSet is a hold set on a Stage, or a freeze on the
	// project (an event without a Stage), by a person.
	NotificationHoldSet NotificationEventType = "HoldSet"
)

// NotificationSubscription delivers a project's events (new Freight,
// promotions, failed verifications) to one receiver: a generic webhook
// whose requests are signed, a Slack incoming webhook or a Microsoft Teams
// incoming webhook. Events are queued in its status as kargo's controller
// sees them and delivered in that order, one at a time, retried with
// back-off until the receiver takes them: a receiver that is down for a
// while misses nothing.
//
// Every Secret it names must be one its author may read (kargo's admission
// webhook checks, on every change of the spec), and every request goes
// through the controller's outbound address policy.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kargo,shortName=notifications
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Queued",type=integer,JSONPath=`.status.queued`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NotificationSubscription struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which events go where.
	Spec NotificationSubscriptionSpec `json:"spec"`
	// Status is the delivery queue and log, written by the controller only.
	//
	// +optional
	Status NotificationSubscriptionStatus `json:"status,omitempty"`
}

// NotificationSubscriptionSpec says which events a subscription delivers,
// and to which receiver: exactly one of webhook, slack and teams.
//
// +kubebuilder:validation:XValidation:rule="(has(self.webhook) ? 1 : 0) + (has(self.slack) ? 1 : 0) + (has(self.teams) ? 1 : 0) == 1",message="name exactly one receiver: webhook, slack or teams"
type NotificationSubscriptionSpec struct {
	// Events are the kinds of event delivered; all of them when empty.
	//
	// +listType=set
	// +optional
	Events []NotificationEventType `json:"events,omitempty"`
	// Stages limits the events about a Stage (promotions, verifications)
	// to those Stages; every Stage when empty. Freight events are not
	// about a Stage and are delivered whatever this says.
	//
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Stages []string `json:"stages,omitempty"`
	// Webhook delivers each event as a JSON document in a POST request,
	// signed when a signing Secret is named.
	//
	// +optional
	Webhook *WebhookNotification `json:"webhook,omitempty"`
	// Slack delivers each event as a message to a Slack incoming webhook.
	//
	// +optional
	Slack *ChatNotification `json:"slack,omitempty"`
	// Teams delivers each event as a message card to a Microsoft Teams
	// incoming webhook (or a Workflows webhook that takes the same JSON).
	//
	// +optional
	Teams *ChatNotification `json:"teams,omitempty"`
}

// WebhookNotification is a generic webhook receiver.
type WebhookNotification struct {
	// URL is where events are POSTed: an http or https URL.
	//
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="a webhook URL starts with https:// or http://"
	URL string `json:"url"`
	// SigningSecret names the key of a Secret in the project whose value
	// signs each request: the X-Kargo-Signature header is
	// "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>'>". Without
	// it, requests are not signed.
	//
	// +optional
	SigningSecret *SecretKeyRef `json:"signingSecret,omitempty"`
}

// ChatNotification is a Slack or Microsoft Teams incoming webhook. Its URL
// is a credential (whoever has it may post to the channel), so it is read
// from a Secret of the project rather than written in the spec.
type ChatNotification struct {
	// URLFrom names the key of a Secret in the project that holds the
	// incoming webhook's URL.
	URLFrom SecretKeyRef `json:"urlFrom"`
}

// NotificationSubscriptionStatus is the queue and the delivery log of a
// subscription. The controller alone writes it.
type NotificationSubscriptionStatus struct {
	// Conditions are Ready (the last delivery succeeded, or nothing was
	// due) and Stalled.
	//
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation of the spec last acted on.
	//
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Horizon is the time of the oldest event still considered: events
	// before it are never queued. It starts at the subscription's creation
	// (in whole seconds) and moves forward as the record of sent events is
	// trimmed.
	//
	// +optional
	Horizon *metav1.MicroTime `json:"horizon,omitempty"`
	// Queue holds the events not delivered yet, in the order they are
	// delivered.
	//
	// +optional
	Queue []NotificationEvent `json:"queue,omitempty"`
	// Queued is len(queue), for printing.
	//
	// +optional
	Queued int32 `json:"queued,omitempty"`
	// Sent records the events after Horizon that left the queue (delivered
	// or given up), so that none is queued twice.
	//
	// +optional
	Sent []SentNotification `json:"sent,omitempty"`
	// Deliveries is the delivery log, newest first (bounded).
	//
	// +optional
	Deliveries []NotificationDelivery `json:"deliveries,omitempty"`
	// Dropped counts the events dropped unsent because the queue was full.
	//
	// +optional
	Dropped int64 `json:"dropped,omitempty"`
}

// NotificationEvent is one event to deliver.
type NotificationEvent struct {
	// ID identifies the event; receivers may use it to drop a repeat,
	// which a controller restart between a delivery and its record can
	// cause.
	ID string `json:"id"`
	// Type is the kind of event.
	Type NotificationEventType `json:"type"`
	// Time is when it happened.
	Time metav1.MicroTime `json:"time"`
	// Stage is the Stage it is about, if any.
	//
	// +optional
	Stage string `json:"stage,omitempty"`
	// Freight is the Freight it is about, if any.
	//
	// +optional
	Freight string `json:"freight,omitempty"`
	// FreightAlias is the Freight's alias when the event was seen.
	//
	// +optional
	FreightAlias string `json:"freightAlias,omitempty"`
	// Promotion is the Promotion it is about, if any.
	//
	// +optional
	Promotion string `json:"promotion,omitempty"`
	// Actor is who created the Promotion, if it is about one.
	//
	// +optional
	Actor string `json:"actor,omitempty"`
	// Message says what happened, as the object's status said it.
	//
	// +optional
	Message string `json:"message,omitempty"`
	// Attempts counts the deliveries tried so far.
	//
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// NextAttempt is when the next delivery is due, after a failed one.
	//
	// +optional
	NextAttempt *metav1.Time `json:"nextAttempt,omitempty"`
}

// SentNotification is an event that left the queue.
type SentNotification struct {
	// ID is the event's ID.
	ID string `json:"id"`
	// Time is the event's time.
	Time metav1.MicroTime `json:"time"`
}

// NotificationDeliveryResult is how one delivery attempt ended.
//
// +kubebuilder:validation:Enum=Delivered;Failed;Rejected;Dropped
type NotificationDeliveryResult string

const (
	// NotificationDelivered means the receiver answered 2xx.
	NotificationDelivered NotificationDeliveryResult = "Delivered"
	// NotificationFailed means the attempt failed (no answer, 5xx, 408,
	// 429, a refused address, a missing Secret) and will be retried.
	NotificationFailed NotificationDeliveryResult = "Failed"
	// NotificationRejected means the receiver refused the event for good
	// (another 4xx); it is not retried, and the next event is delivered.
	NotificationRejected NotificationDeliveryResult = "Rejected"
	// NotificationDropped means the event was dropped unsent because the
	// queue was full.
	NotificationDropped NotificationDeliveryResult = "Dropped"
)

// NotificationDelivery is one entry of the delivery log.
type NotificationDelivery struct {
	// EventID is the event's ID.
	EventID string `json:"eventID"`
	// Type is the event's type.
	Type NotificationEventType `json:"type"`
	// Time is when the attempt ended.
	Time metav1.Time `json:"time"`
	// Attempt is the attempt's number, from 1.
	Attempt int32 `json:"attempt"`
	// Result is how it ended.
	Result NotificationDeliveryResult `json:"result"`
	// Code is the receiver's HTTP status code, when it answered.
	//
	// +optional
	Code int32 `json:"code,omitempty"`
	// Message says why an attempt did not deliver.
	//
	// +optional
	Message string `json:"message,omitempty"`
}

// NotificationSubscriptionList is a list of NotificationSubscriptions.
//
// +kubebuilder:object:root=true
type NotificationSubscriptionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NotificationSubscription `json:"items"`
}
