package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
)

var t0 = time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)

func event(id string, typ kargoapi.NotificationEventType, at time.Duration, stage string) kargoapi.NotificationEvent {
	return kargoapi.NotificationEvent{ID: id, Type: typ, Time: metav1.NewMicroTime(t0.Add(at)), Stage: stage}
}

func ids(es []kargoapi.NotificationEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestEvents(t *testing.T) {
	start, end := metav1.NewTime(t0.Add(time.Second)), metav1.NewTime(t0.Add(3*time.Second))
	fs := []kargoapi.Freight{{
		ObjectMeta: metav1.ObjectMeta{Name: "abc", UID: types.UID("f1"), Annotations: map[string]string{kargoapi.DiscoveredAtAnnotationKey: t0.Format(time.RFC3339Nano)}},
		Alias:      "jolly-narwhal",
		Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"},
	}}
	ps := []kargoapi.Promotion{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "p1", UID: "p1", Annotations: map[string]string{kargoapi.PromotionCreatedByAnnotationKey: "alice"}},
			Spec:       kargoapi.PromotionSpec{Stage: "uat", Freight: "abc"},
			Status:     kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseErrored, Message: "push refused", StartTime: &start, CompletionTime: &end},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "p2", UID: "p2"},
			Spec:       kargoapi.PromotionSpec{Stage: "prod", Freight: "abc"},
			Status:     kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhasePending},
		},
	}
	finished := metav1.NewTime(t0.Add(2 * time.Second))
	ss := []kargoapi.Stage{{
		ObjectMeta: metav1.ObjectMeta{Name: "uat", UID: "s1"},
		Status: kargoapi.StageStatus{
			Verification: &kargoapi.VerificationInfo{ID: "v2", Freight: "abc", Phase: kargoapi.VerificationPhaseRunning},
			VerificationHistory: []kargoapi.VerificationInfo{
				{ID: "v2", Freight: "abc", Phase: kargoapi.VerificationPhaseRunning},
				{ID: "v1", Freight: "abc", Phase: kargoapi.VerificationPhaseFailed, Message: "check health answered 500", FinishTime: &finished},
				{ID: "v0", Freight: "abc", Phase: kargoapi.VerificationPhaseSuccessful, FinishTime: &finished},
			},
		},
	}}
	got := Events(fs, ps, ss)
	require.Equal(t, []string{"freight/f1", "promotion/p1/started", "verification/s1/v1", "promotion/p1/failed"}, ids(got), "oldest first; a pending Promotion has no event yet")
	require.Equal(t, "New Freight jolly-narwhal (abc) from Warehouse w", got[0].Message)
	require.Equal(t, kargoapi.NotificationPromotionStarted, got[1].Type)
	require.Equal(t, "alice", got[1].Actor)
	require.Equal(t, "jolly-narwhal", got[1].FreightAlias)
	require.Equal(t, kargoapi.NotificationVerificationFailed, got[2].Type)
	require.Contains(t, got[2].Message, "check health answered 500")
	require.Equal(t, kargoapi.NotificationPromotionFailed, got[3].Type, "Errored is a failure")
	require.Equal(t, "push refused", got[3].Message)
}

func TestEnqueue(t *testing.T) {
	created := t0
	spec := kargoapi.NotificationSubscriptionSpec{}
	st := &kargoapi.NotificationSubscriptionStatus{}
	before := event("before", kargoapi.NotificationFreightCreated, -time.Millisecond, "")
	a := event("a", kargoapi.NotificationFreightCreated, time.Second, "")
	b := event("b", kargoapi.NotificationPromotionStarted, 2*time.Second, "uat")
	require.True(t, Enqueue(st, spec, created, []kargoapi.NotificationEvent{before, a, b}, t0))
	require.Equal(t, []string{"a", "b"}, ids(st.Queue), "events before the subscription existed are not sent")
	require.False(t, Enqueue(st, spec, created, []kargoapi.NotificationEvent{before, a, b}, t0), "seen again: nothing queued twice")

	// a is delivered: it is remembered, not queued again.
	Sent(st, st.Queue[0])
	st.Queue = st.Queue[1:]
	require.False(t, Enqueue(st, spec, created, []kargoapi.NotificationEvent{a, b}, t0))
	require.Equal(t, []string{"b"}, ids(st.Queue))

	t.Run("filters", func(t *testing.T) {
		spec := kargoapi.NotificationSubscriptionSpec{Events: []kargoapi.NotificationEventType{kargoapi.NotificationPromotionStarted}, Stages: []string{"prod"}}
		st := &kargoapi.NotificationSubscriptionStatus{}
		Enqueue(st, spec, created, []kargoapi.NotificationEvent{a, b, event("c", kargoapi.NotificationPromotionStarted, time.Second, "prod")}, t0)
		require.Equal(t, []string{"c"}, ids(st.Queue))
	})

	t.Run("a full queue drops the oldest and says so", func(t *testing.T) {
		st := &kargoapi.NotificationSubscriptionStatus{}
		var es []kargoapi.NotificationEvent
		for i := range MaxQueue + 3 {
			es = append(es, event(fmt.Sprintf("e%04d", i), kargoapi.NotificationFreightCreated, time.Duration(i+1)*time.Millisecond, ""))
		}
		Enqueue(st, spec, created, es, t0)
		require.Len(t, st.Queue, MaxQueue)
		require.Equal(t, "e0003", st.Queue[0].ID)
		require.EqualValues(t, 3, st.Dropped)
		require.EqualValues(t, MaxQueue, st.Queued)
		require.Equal(t, kargoapi.NotificationDropped, st.Deliveries[0].Result)
		require.False(t, Enqueue(st, spec, created, es, t0), "dropped events are not queued again")
	})

	t.Run("the record of sent events is bounded by moving the horizon", func(t *testing.T) {
		st := &kargoapi.NotificationSubscriptionStatus{}
		Enqueue(st, spec, created, nil, t0)
		var es []kargoapi.NotificationEvent
		for i := range MaxSent + 10 {
			e := event(fmt.Sprintf("s%04d", i), kargoapi.NotificationFreightCreated, time.Duration(i+1)*time.Millisecond, "")
			es = append(es, e)
			Sent(st, e)
		}
		require.Len(t, st.Sent, MaxSent)
		require.True(t, st.Horizon.Time.Equal(es[9].Time.Add(time.Microsecond)), "just past the newest forgotten")
		require.False(t, Enqueue(st, spec, created, es, t0), "forgotten ones are behind the horizon")
	})
}

func TestSignAndVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"id":"x"}`)
	h := Sign(secret, t0, body)
	require.NoError(t, Verify(secret, h, body, t0.Add(time.Minute), 5*time.Minute))
	require.ErrorContains(t, Verify([]byte("other"), h, body, t0, 5*time.Minute), "does not match")
	require.ErrorContains(t, Verify(secret, h, []byte(`{"id":"y"}`), t0, 5*time.Minute), "does not match")
	require.ErrorContains(t, Verify(secret, h, body, t0.Add(time.Hour), 5*time.Minute), "more than")
	require.Error(t, Verify(secret, "v1=abc", body, t0, 5*time.Minute))
	// The time is signed too: moving it breaks the signature.
	moved := strings.Replace(h, fmt.Sprintf("t=%d", t0.Unix()), fmt.Sprintf("t=%d", t0.Unix()+60), 1)
	require.ErrorContains(t, Verify(secret, moved, body, t0, 5*time.Minute), "does not match")
}

func TestBodies(t *testing.T) {
	e := kargoapi.NotificationEvent{ID: "promotion/p1/succeeded", Type: kargoapi.NotificationPromotionSucceeded, Time: metav1.NewMicroTime(t0),
		Stage: "uat", Freight: "abc", FreightAlias: "jolly-narwhal", Promotion: "p1", Actor: "alice", Message: "Promoted"}
	raw, err := Target{Shape: "slack"}.Body("demo", "s", e)
	require.NoError(t, err)
	var slack map[string]any
	require.NoError(t, json.Unmarshal(raw, &slack))
	require.Equal(t, "*PromotionSucceeded* in project demo: Promoted (by alice)", slack["text"])

	raw, err = Target{Shape: "teams"}.Body("demo", "s", e)
	require.NoError(t, err)
	var teams struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string           `json:"type"`
				Version string           `json:"version"`
				Body    []map[string]any `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	require.NoError(t, json.Unmarshal(raw, &teams))
	require.Equal(t, "message", teams.Type)
	require.Len(t, teams.Attachments, 1)
	require.Equal(t, "application/vnd.microsoft.card.adaptive", teams.Attachments[0].ContentType)
	require.Equal(t, "AdaptiveCard", teams.Attachments[0].Content.Type)
	require.Equal(t, "PromotionSucceeded in demo", teams.Attachments[0].Content.Body[0]["text"])

	raw, err = Target{Shape: "webhook"}.Body("demo", "s", e)
	require.NoError(t, err)
	var p Payload
	require.NoError(t, json.Unmarshal(raw, &p))
	require.Equal(t, Payload{ID: e.ID, Type: e.Type, Time: t0, Project: "demo", Subscription: "s", Stage: "uat", Freight: "abc",
		FreightAlias: "jolly-narwhal", Promotion: "p1", Actor: "alice", Message: "Promoted"}, p)
}

// receiver is a real HTTP server on loopback answering with the codes it
// is given, one per request, then 200.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	codes  []int
	bodies [][]byte
	heads  []http.Header
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.heads = append(r.heads, req.Header.Clone())
		code := http.StatusOK
		if len(r.codes) > 0 {
			code, r.codes = r.codes[0], r.codes[1:]
		}
		r.mu.Unlock()
		if code == http.StatusFound {
			w.Header().Set("Location", "http://169.254.169.254/")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func TestSend(t *testing.T) {
	ctx := context.Background()
	e := event("freight/f1", kargoapi.NotificationFreightCreated, 0, "")
	rx := newReceiver(t, 503, 429, 404, 302, 200)
	policy := egress.New(egress.Options{})
	t.Cleanup(func() { _ = policy.Close() })

	t.Run("the outbound policy refuses loopback until allowed", func(t *testing.T) {
		out := NewSender(policy).Send(ctx, Target{URL: rx.URL, Shape: "webhook"}, "p", "s", e, t0)
		require.Equal(t, kargoapi.NotificationFailed, out.Result)
		require.Equal(t, kargoapi.ReasonOutboundRefused, out.Reason)
		require.Empty(t, rx.bodies, "nothing reached the receiver")
	})

	rules, err := egress.ParseRules(rx.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(policy.Allow(rules...))
	s := NewSender(policy)
	want := []struct {
		result kargoapi.NotificationDeliveryResult
		code   int
	}{
		{kargoapi.NotificationFailed, 503}, {kargoapi.NotificationFailed, 429}, {kargoapi.NotificationRejected, 404},
		{kargoapi.NotificationRejected, 302}, {kargoapi.NotificationDelivered, 200},
	}
	key := []byte("k")
	for _, w := range want {
		out := s.Send(ctx, Target{URL: rx.URL + "/hook", Shape: "webhook", SigningKey: key}, "p", "s", e, time.Now())
		require.Equal(t, w.result, out.Result, out.Message)
		require.Equal(t, w.code, out.Code)
	}
	require.Len(t, rx.bodies, len(want), "a redirect is not followed")
	for i, body := range rx.bodies {
		require.NoError(t, Verify(key, rx.heads[i].Get(SignatureHeader), body, time.Now(), time.Minute))
		require.Equal(t, "freight/f1", rx.heads[i].Get(DeliveryHeader))
		require.Equal(t, "FreightCreated", rx.heads[i].Get(EventHeader))
	}

	t.Run("a chat URL never appears in a message", func(t *testing.T) {
		secretURL := "http://127.0.0.1:1/services/T000/B000/XXXXSECRET"
		rules, err := egress.ParseRules("127.0.0.1:1")
		require.NoError(t, err)
		defer policy.Allow(rules...)()
		out := s.Send(ctx, Target{URL: secretURL, Shape: "slack"}, "p", "s", e, t0)
		require.Equal(t, kargoapi.NotificationFailed, out.Result)
		require.NotContains(t, out.Message, "XXXXSECRET")
		require.Contains(t, out.Message, "Slack webhook")
	})
}

// A Promotion waiting for approval is one event, from when it began
// waiting, saying what is missing; an aborted one is PromotionAborted,
// whose actor is who aborted it, not who promoted.
func TestApprovalAndAbortEvents(t *testing.T) {
	since, end := metav1.NewTime(t0.Add(time.Second)), metav1.NewTime(t0.Add(5*time.Second))
	ps := []kargoapi.Promotion{{
		ObjectMeta: metav1.ObjectMeta{Name: "p1", UID: "u1", Annotations: map[string]string{kargoapi.PromotionCreatedByAnnotationKey: "alice"}},
		Spec:       kargoapi.PromotionSpec{Stage: "prod", Freight: "abc"},
		Status: kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhasePending, Approval: &kargoapi.PromotionApprovalStatus{
			WaitingSince: &since, Missing: "Waiting for approval: 1 more approval from group release",
		}},
	}, {
		ObjectMeta: metav1.ObjectMeta{Name: "p2", UID: "u2", Annotations: map[string]string{kargoapi.PromotionCreatedByAnnotationKey: "alice"}},
		Spec:       kargoapi.PromotionSpec{Stage: "prod", Freight: "abc"},
		Status:     kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseAborted, AbortedBy: "bob", Message: "Aborted by bob before it started", CompletionTime: &end},
	}}
	es := Events(nil, ps, nil)
	require.Equal(t, []string{"promotion/u1/waiting-for-approval", "promotion/u2/aborted"}, ids(es))
	require.Equal(t, kargoapi.NotificationPromotionWaitingForApproval, es[0].Type)
	require.Equal(t, since.Time, es[0].Time.Time)
	require.Contains(t, es[0].Message, "Promotion p1 of Freight abc into Stage prod: Waiting for approval: 1 more approval from group release")
	require.Equal(t, "alice", es[0].Actor)
	require.Equal(t, kargoapi.NotificationPromotionAborted, es[1].Type)
	require.Equal(t, "bob", es[1].Actor)
	require.Equal(t, "Aborted by bob before it started", es[1].Message)
}
