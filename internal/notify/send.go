package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
)

// Headers of a generic webhook request.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>" of
	// the string "<t>.<body>", keyed with the signing Secret's value.
	SignatureHeader = "X-Kargo-Signature"
	// EventHeader carries the event's type.
	EventHeader = "X-Kargo-Event"
	// DeliveryHeader carries the event's ID, the same on every attempt.
	DeliveryHeader = "X-Kargo-Delivery"
)

// Payload is the JSON body of a generic webhook request.
type Payload struct {
	ID           string                         `json:"id"`
	Type         kargoapi.NotificationEventType `json:"type"`
	Time         time.Time                      `json:"time"`
	Project      string                         `json:"project"`
	Subscription string                         `json:"subscription"`
	Stage        string                         `json:"stage,omitempty"`
	Freight      string                         `json:"freight,omitempty"`
	FreightAlias string                         `json:"freightAlias,omitempty"`
	Promotion    string                         `json:"promotion,omitempty"`
	Actor        string                         `json:"actor,omitempty"`
	Message      string                         `json:"message,omitempty"`
}

// Sign returns the SignatureHeader value of body sent at t with secret.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a SignatureHeader value against body and secret, and that
// its time is within tolerance of now (a replayed request is refused once
// it is older). Receivers written in Go may use it; others follow its
// steps.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("the signature header is not t=<unix seconds>,v1=<hex>")
	}
	t := time.Unix(sec, 0)
	if d := now.Sub(t); d > tolerance || d < -tolerance {
		return fmt.Errorf("the signature is from %s, more than %s from now", t.UTC().Format(time.RFC3339), tolerance)
	}
	want := Sign(secret, t, body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig)) {
		return errors.New("the signature does not match the body")
	}
	return nil
}

// Target is a resolved receiver: where to send, in which shape, and the
// signing key of a generic webhook.
type Target struct {
	URL string
	// Shape is "webhook", "slack" or "teams".
	Shape string
	// SigningKey signs generic webhook requests; nil leaves them unsigned.
	SigningKey []byte
}

// Body returns the request body of e for the target's shape.
func (t Target) Body(project, subscription string, e kargoapi.NotificationEvent) ([]byte, error) {
	switch t.Shape {
	case "slack":
		// An incoming webhook message: text with Slack's mrkdwn.
		return json.Marshal(map[string]any{"text": chatText(project, e, "*")})
	case "teams":
		// A message with an Adaptive Card, as Teams incoming webhooks and
		// Workflows' "when a Teams webhook request is received" take it.
		card := map[string]any{
			"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
			"type":    "AdaptiveCard",
			"version": "1.4",
			"body": []any{
				map[string]any{"type": "TextBlock", "text": string(e.Type) + " in " + project, "weight": "Bolder", "size": "Medium", "wrap": true},
				map[string]any{"type": "TextBlock", "text": e.Message, "wrap": true},
				map[string]any{"type": "FactSet", "facts": facts(e)},
			},
		}
		return json.Marshal(map[string]any{
			"type":        "message",
			"attachments": []any{map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": nil, "content": card}},
		})
	}
	return json.Marshal(Payload{
		ID: e.ID, Type: e.Type, Time: e.Time.UTC(), Project: project, Subscription: subscription,
		Stage: e.Stage, Freight: e.Freight, FreightAlias: e.FreightAlias, Promotion: e.Promotion, Actor: e.Actor, Message: e.Message,
	})
}

func chatText(project string, e kargoapi.NotificationEvent, bold string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s%s in project %s: %s", bold, e.Type, bold, project, e.Message)
	if e.Actor != "" {
		fmt.Fprintf(&b, " (by %s)", e.Actor)
	}
	return b.String()
}

func facts(e kargoapi.NotificationEvent) []any {
	var out []any
	for _, f := range [][2]string{{"Stage", e.Stage}, {"Freight", label(e.Freight, e.FreightAlias)}, {"Promotion", e.Promotion}, {"By", e.Actor}} {
		if f[1] != "" {
			out = append(out, map[string]any{"title": f[0], "value": f[1]})
		}
	}
	return out
}

// Outcome is how one delivery attempt ended.
type Outcome struct {
	Result kargoapi.NotificationDeliveryResult
	// Code is the receiver's status code, 0 when it did not answer.
	Code int
	// Reason is the condition reason when not delivered.
	Reason string
	// Message says why not delivered; it never holds the URL of a chat
	// target, which is a credential.
	Message string
}

// Sender sends events. It is safe for concurrent use.
type Sender struct {
	http *http.Client
}

// NewSender returns a Sender whose every connection goes through policy
// (egress.New with no rules when nil). Redirects are not followed: a
// receiver is the URL its subscription names.
func NewSender(policy *egress.Policy) *Sender {
	if policy == nil {
		policy = egress.New(egress.Options{})
	}
	return &Sender{http: &http.Client{
		Transport:     policy.Transport(nil),
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Send delivers e to t.
func (s *Sender) Send(ctx context.Context, t Target, project, subscription string, e kargoapi.NotificationEvent, now time.Time) Outcome {
	body, err := t.Body(project, subscription, e)
	if err != nil {
		return Outcome{Result: kargoapi.NotificationRejected, Reason: kargoapi.ReasonDeliveryFailed, Message: fmt.Sprintf("encode the event: %v", err)}
	}
	where := "the webhook " + redact(t.URL)
	if t.Shape != "webhook" {
		where = "the " + map[string]string{"slack": "Slack", "teams": "Teams"}[t.Shape] + " webhook"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return Outcome{Result: kargoapi.NotificationFailed, Reason: kargoapi.ReasonDeliveryFailed, Message: where + " is not a URL a request can be sent to"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kargo-notifications")
	if t.Shape == "webhook" {
		req.Header.Set(EventHeader, string(e.Type))
		req.Header.Set(DeliveryHeader, e.ID)
		if t.SigningKey != nil {
			req.Header.Set(SignatureHeader, Sign(t.SigningKey, now, body))
		}
	}
	resp, err := s.http.Do(req)
	if err != nil {
		if errors.Is(err, egress.ErrRefused) {
			var refused *egress.RefusedError
			msg := "the controller's outbound policy refuses " + where
			if errors.As(err, &refused) {
				msg += ": " + refused.Error()
			}
			return Outcome{Result: kargoapi.NotificationFailed, Reason: kargoapi.ReasonOutboundRefused, Message: msg}
		}
		// The error of a chat target would quote its URL.
		return Outcome{Result: kargoapi.NotificationFailed, Reason: kargoapi.ReasonDeliveryFailed, Message: where + " did not answer: " + scrub(scrub(err.Error(), req.URL.String()), t.URL)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return Outcome{Result: kargoapi.NotificationDelivered, Code: code}
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return Outcome{Result: kargoapi.NotificationFailed, Code: code, Reason: kargoapi.ReasonDeliveryFailed, Message: fmt.Sprintf("%s answered %d; retried with back-off", where, code)}
	case code >= 300 && code < 400:
		return Outcome{Result: kargoapi.NotificationRejected, Code: code, Reason: kargoapi.ReasonDeliveryFailed, Message: fmt.Sprintf("%s answered with a redirect (%d), which is not followed: name the final URL", where, code)}
	}
	return Outcome{Result: kargoapi.NotificationRejected, Code: code, Reason: kargoapi.ReasonDeliveryFailed, Message: fmt.Sprintf("%s refused the event (%d); it is not retried", where, code)}
}

// redact drops userinfo and the query, which may hold credentials.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// scrub removes the URL from an error message.
func scrub(msg, raw string) string {
	return strings.ReplaceAll(msg, raw, "<url>")
}
