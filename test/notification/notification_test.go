package notification

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/notify"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

// receiver is a real HTTP server on loopback that answers 503 while down
// and records what it takes while up.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	down     bool
	refused  int
	taken    [][]byte
	headers  []http.Header
	received []string // paths, for chat receivers
}

func newReceiver(t *testing.T, down bool) *receiver {
	t.Helper()
	r := &receiver{down: down}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down {
			r.refused++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.taken = append(r.taken, body)
		r.headers = append(r.headers, req.Header.Clone())
		r.received = append(r.received, req.URL.Path)
	}))
	t.Cleanup(r.Close)
	controllers.AllowOutbound(t, r.Listener.Addr().String())
	return r
}

func (r *receiver) setDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
}

func (r *receiver) snapshot() (refused int, taken [][]byte, headers []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused, append([][]byte(nil), r.taken...), append([]http.Header(nil), r.headers...)
}

// project creates a project with a Warehouse w and a Stage test that
// subscribes to it, and returns its name.
func project(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	p := env.NewProject(t, "notify")
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: p},
		Spec: kargoapi.WarehouseSpec{
			Interval:      &metav1.Duration{Duration: time.Hour},
			Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: "registry.invalid/app"}}},
		},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: p},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}},
	}))
	return p
}

// newFreight creates Freight of w for tag.
func newFreight(t *testing.T, p, tag string) *kargoapi.Freight {
	t.Helper()
	origin := &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "w"}
	images := []kargoapi.Image{{RepoURL: "registry.invalid/app", Tag: tag, Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(tag)))}}
	f := &kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: freight.Fingerprint(origin, nil, images, nil), Namespace: p},
		Origin:     origin,
		Images:     images,
	}
	require.NoError(t, env.Admin.Create(context.Background(), f))
	return f
}

func subscription(t *testing.T, p string) *kargoapi.NotificationSubscription {
	t.Helper()
	s := &kargoapi.NotificationSubscription{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: p, Name: "hook"}, s))
	return s
}

// TestReceiverDownAndBack delivers a project's events to a webhook that is
// down while they happen: they wait in the subscription's queue, retried
// with back-off, and reach the receiver once it is back, each once, in the
// order they were queued, signed.
func TestReceiverDownAndBack(t *testing.T) {
	ctx := context.Background()
	p := project(t)
	rx := newReceiver(t, true)
	key := []byte("signing-key-of-the-receiver")
	require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: p, Name: "hook-signing"},
		Data:       map[string][]byte{"key": key},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.NotificationSubscription{
		ObjectMeta: metav1.ObjectMeta{Namespace: p, Name: "hook"},
		Spec: kargoapi.NotificationSubscriptionSpec{
			Webhook: &kargoapi.WebhookNotification{URL: rx.URL + "/kargo", SigningSecret: &kargoapi.SecretKeyRef{Name: "hook-signing", Key: "key"}},
		},
	}))
	kubetest.Eventually(t, 30*time.Second, "the subscription is picked up", func() (bool, string) {
		return subscription(t, p).Status.Horizon != nil, "no horizon yet"
	})

	// While the receiver is down: three Freight, and a Promotion of the
	// first into test, which starts and succeeds.
	fs := []*kargoapi.Freight{newFreight(t, p, "1.0.0"), newFreight(t, p, "1.1.0"), newFreight(t, p, "1.2.0")}
	promo := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Namespace: p, Name: "test-1"},
		Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: fs[0].Name},
	}
	require.NoError(t, env.Admin.Create(ctx, promo))
	var queued []string
	kubetest.Eventually(t, time.Minute, "every event is queued and the receiver has refused some attempts", func() (bool, string) {
		s := subscription(t, p)
		queued = queued[:0]
		types := map[kargoapi.NotificationEventType]int{}
		for _, e := range s.Status.Queue {
			queued = append(queued, e.ID)
			types[e.Type]++
		}
		refused, _, _ := rx.snapshot()
		want := map[kargoapi.NotificationEventType]int{
			kargoapi.NotificationFreightCreated: 3, kargoapi.NotificationPromotionStarted: 1, kargoapi.NotificationPromotionSucceeded: 1,
		}
		pr := &kargoapi.Promotion{}
		_ = env.Admin.Get(ctx, client.ObjectKeyFromObject(promo), pr)
		return fmt.Sprint(types) == fmt.Sprint(want) && refused >= 3, fmt.Sprintf("queued %v, refused %d, promotion %+v", types, refused, pr.Status)
	})
	s := subscription(t, p)
	require.Equal(t, kargoapi.NotificationFailed, s.Status.Deliveries[0].Result)
	require.EqualValues(t, http.StatusServiceUnavailable, s.Status.Deliveries[0].Code)
	require.LessOrEqual(t, len(s.Status.Deliveries), notify.MaxLog)
	require.Greater(t, s.Status.Queue[0].Attempts, int32(1), "the head is retried")
	ready := readyCondition(s)
	require.Equal(t, metav1.ConditionFalse, ready.Status)
	require.Equal(t, kargoapi.ReasonDeliveryFailed, ready.Reason)

	rx.setDown(false)
	kubetest.Eventually(t, time.Minute, "the queue drains", func() (bool, string) {
		s := subscription(t, p)
		return len(s.Status.Queue) == 0, fmt.Sprintf("%d queued", len(s.Status.Queue))
	})
	_, taken, headers := rx.snapshot()
	var got []string
	for i, body := range taken {
		require.NoError(t, notify.Verify(key, headers[i].Get(notify.SignatureHeader), body, time.Now(), 5*time.Minute), "request %d is signed with the Secret's key", i)
		var pl notify.Payload
		require.NoError(t, json.Unmarshal(body, &pl))
		require.Equal(t, p, pl.Project)
		require.Equal(t, "hook", pl.Subscription)
		require.Equal(t, pl.ID, headers[i].Get(notify.DeliveryHeader))
		got = append(got, pl.ID)
	}
	require.Equal(t, queued, got, "each event once, in the order queued")
	s = subscription(t, p)
	require.Equal(t, metav1.ConditionTrue, readyCondition(s).Status)
	require.Equal(t, kargoapi.NotificationDelivered, s.Status.Deliveries[0].Result)

	// A new event goes straight through, and nothing is sent twice.
	f := newFreight(t, p, "2.0.0")
	kubetest.Eventually(t, 30*time.Second, "the new Freight's event arrives", func() (bool, string) {
		_, taken, _ := rx.snapshot()
		return len(taken) == len(got)+1, fmt.Sprintf("%d taken", len(taken))
	})
	_, taken, _ = rx.snapshot()
	var last notify.Payload
	require.NoError(t, json.Unmarshal(taken[len(taken)-1], &last))
	require.Equal(t, kargoapi.NotificationFreightCreated, last.Type)
	require.Equal(t, f.Name, last.Freight)
}

func readyCondition(s *kargoapi.NotificationSubscription) metav1.Condition {
	for _, c := range s.Status.Conditions {
		if c.Type == kargoapi.ConditionReady {
			return c
		}
	}
	return metav1.Condition{}
}

// TestChatReceivers delivers to Slack- and Teams-shaped receivers whose
// URLs come from a Secret, filtered to one Stage's promotions.
func TestChatReceivers(t *testing.T) {
	ctx := context.Background()
	p := project(t)
	rx := newReceiver(t, false)
	require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: p, Name: "chat"},
		Data:       map[string][]byte{"slack": []byte(rx.URL + "/services/T0/B0/slacktoken"), "teams": []byte(rx.URL + "/webhookb2/teamstoken")},
	}))
	for name, spec := range map[string]kargoapi.NotificationSubscriptionSpec{
		"slack": {Slack: &kargoapi.ChatNotification{URLFrom: kargoapi.SecretKeyRef{Name: "chat", Key: "slack"}}},
		"teams": {Teams: &kargoapi.ChatNotification{URLFrom: kargoapi.SecretKeyRef{Name: "chat", Key: "teams"}}},
	} {
		spec.Events = []kargoapi.NotificationEventType{kargoapi.NotificationPromotionSucceeded}
		spec.Stages = []string{"test"}
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.NotificationSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: p, Name: name}, Spec: spec}))
	}
	kubetest.Eventually(t, 30*time.Second, "the subscriptions are picked up", func() (bool, string) {
		for _, n := range []string{"slack", "teams"} {
			s := &kargoapi.NotificationSubscription{}
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: p, Name: n}, s))
			if s.Status.Horizon == nil {
				return false, n + " has no horizon yet"
			}
		}
		return true, ""
	})
	f := newFreight(t, p, "3.0.0")
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Namespace: p, Name: "test-3"},
		Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: f.Name},
	}))
	kubetest.Eventually(t, time.Minute, "both receivers get the promotion", func() (bool, string) {
		_, taken, _ := rx.snapshot()
		pr := &kargoapi.Promotion{}
		_ = env.Admin.Get(ctx, client.ObjectKey{Namespace: p, Name: "test-3"}, pr)
		sl := &kargoapi.NotificationSubscription{}
		_ = env.Admin.Get(ctx, client.ObjectKey{Namespace: p, Name: "slack"}, sl)
		return len(taken) == 2, fmt.Sprintf("%d taken; promotion %s %v; slack %+v", len(taken), pr.Status.Phase, pr.Status.CompletionTime, sl.Status)
	})
	_, taken, _ := rx.snapshot()
	rx.mu.Lock()
	paths := append([]string(nil), rx.received...)
	rx.mu.Unlock()
	for i, body := range taken {
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m))
		switch paths[i] {
		case "/services/T0/B0/slacktoken":
			require.Contains(t, m["text"], "*PromotionSucceeded* in project "+p)
		case "/webhookb2/teamstoken":
			require.Equal(t, "message", m["type"])
			require.Len(t, m["attachments"], 1)
		default:
			t.Fatalf("unexpected path %s", paths[i])
		}
	}
	// Only what the filters let through: neither subscription queued the
	// Freight or the start of the promotion.
	for _, n := range []string{"slack", "teams"} {
		s := &kargoapi.NotificationSubscription{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: p, Name: n}, s))
		require.Empty(t, s.Status.Queue)
		require.Len(t, s.Status.Sent, 1, n)
	}
}
