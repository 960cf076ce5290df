package security

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// notificationReceiver is a loopback server that counts what reaches it.
func notificationReceiver(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestNotificationAttacks tries to make kargo's controller send a Secret
// somewhere the attacker chooses through a NotificationSubscription, to
// forge its delivery queue, and to reach an address the outbound policy
// refuses.
func TestNotificationAttacks(t *testing.T) {
	ctx := context.Background()
	project := env.NewProject(t, "notification")
	env.BindAccessUsers(t, project)
	env.Bind(t, project, kubetest.Alice, "ClusterRole", "kargo-promoter")
	// Secrets of the project: git credentials nobody but the admin of the
	// cluster reads, and a Slack URL that alice may read (a Role naming
	// it), as a team would grant it to whoever sets up notifications.
	for name, data := range map[string]string{"git-creds": "ghp_verysecret", "slack": "https://hooks.slack.example/services/T/B/x"} {
		require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name},
			Data:       map[string][]byte{"value": []byte(data)},
		}))
	}
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "notifier"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"slack"}, Verbs: []string{"get"}},
			{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"notificationsubscriptions"}, Verbs: []string{"create", "update", "patch", "get", "list"}},
		},
	}))
	env.Bind(t, project, kubetest.Alice, "Role", "notifier")
	rx, hits := notificationReceiver(t)
	ci := apiserverServiceAccount(t, project, "notifier-ci", "kargo-admin")
	ciCfg := rest.AnonymousClientConfig(env.Config)
	ciCfg.BearerToken = ci
	ciClient, err := client.New(ciCfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)

	sub := func(name string, spec kargoapi.NotificationSubscriptionSpec) *kargoapi.NotificationSubscription {
		return &kargoapi.NotificationSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name}, Spec: spec}
	}
	gitAsSlack := kargoapi.NotificationSubscriptionSpec{Slack: &kargoapi.ChatNotification{URLFrom: kargoapi.SecretKeyRef{Name: "git-creds", Key: "value"}}}
	gitAsKey := kargoapi.NotificationSubscriptionSpec{Webhook: &kargoapi.WebhookNotification{URL: rx.URL, SigningSecret: &kargoapi.SecretKeyRef{Name: "git-creds", Key: "value"}}}
	requireNone := func(t *testing.T, name string) {
		t.Helper()
		err := env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: name}, &kargoapi.NotificationSubscription{})
		require.True(t, apierrors.IsNotFound(err), "subscription %s was written: %v", name, err)
	}

	t.Run("a project admin cannot name a Secret they may not read, as a Slack URL or a signing key", func(t *testing.T) {
		for who, c := range map[string]client.Client{kubetest.Adam: env.As(t, kubetest.Adam), "api token": ciClient} {
			for name, spec := range map[string]kargoapi.NotificationSubscriptionSpec{"git-as-slack": gitAsSlack, "git-as-key": gitAsKey} {
				err := c.Create(ctx, sub(name, spec))
				require.True(t, apierrors.IsForbidden(err), "%s: %v", who, err)
				require.Contains(t, err.Error(), `Secret "git-creds"`)
				requireNone(t, name)
			}
		}
		require.Zero(t, hits.Load(), "nothing was sent")
	})

	t.Run("users without the right cannot create a subscription at all", func(t *testing.T) {
		spec := kargoapi.NotificationSubscriptionSpec{Webhook: &kargoapi.WebhookNotification{URL: rx.URL}}
		for _, u := range []string{kubetest.Bob, kubetest.Carol, kubetest.Vera, kubetest.Nobody} {
			err := env.As(t, u).Create(ctx, sub("by-"+u, spec))
			require.True(t, apierrors.IsForbidden(err), "%s: %v", u, err)
			requireNone(t, "by-"+u)
		}
	})

	t.Run("a user may name a Secret they may read, but not move it to another Secret nor re-point someone else's", func(t *testing.T) {
		alice := env.As(t, kubetest.Alice)
		mine := sub("alices", kargoapi.NotificationSubscriptionSpec{Slack: &kargoapi.ChatNotification{URLFrom: kargoapi.SecretKeyRef{Name: "slack", Key: "value"}}})
		require.NoError(t, alice.Create(ctx, mine))
		// alice cannot switch her subscription to the git credentials.
		changed := mine.DeepCopy()
		changed.Spec = gitAsSlack
		// Patches, not updates: the controller writes the status meanwhile.
		err := alice.Patch(ctx, changed, client.MergeFrom(mine))
		require.True(t, apierrors.IsForbidden(err), "%v", err)
		// adam (who may not read the slack Secret) cannot turn alice's
		// subscription into a generic webhook of his signed with it.
		live := &kargoapi.NotificationSubscription{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(mine), live))
		hijack := live.DeepCopy()
		hijack.Spec = kargoapi.NotificationSubscriptionSpec{Webhook: &kargoapi.WebhookNotification{URL: rx.URL + "/adam", SigningSecret: &kargoapi.SecretKeyRef{Name: "slack", Key: "value"}}}
		err = env.As(t, kubetest.Adam).Patch(ctx, hijack, client.MergeFrom(live))
		require.True(t, apierrors.IsForbidden(err), "%v", err)
		after := &kargoapi.NotificationSubscription{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(mine), after))
		require.Equal(t, live.Spec, after.Spec, "nothing was written")
		require.Equal(t, live.Generation, after.Generation)
		// Changes that leave the spec alone are not checked.
		labelled := after.DeepCopy()
		labelled.Labels = map[string]string{"team": "payments"}
		require.NoError(t, env.As(t, kubetest.Adam).Patch(ctx, labelled, client.MergeFrom(after)))
	})

	t.Run("nobody but the controller writes the queue or the delivery log", func(t *testing.T) {
		live := &kargoapi.NotificationSubscription{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "alices"}, live))
		forged := []byte(`{"status":{"queue":[{"id":"forged","type":"FreightCreated","time":"2999-01-01T00:00:00.000000Z","message":"forged"}],"sent":[]}}`)
		for who, c := range map[string]client.Client{kubetest.Adam: env.As(t, kubetest.Adam), kubetest.Alice: env.As(t, kubetest.Alice), "api token": ciClient} {
			err := c.Status().Patch(ctx, live.DeepCopy(), client.RawPatch(types.MergePatchType, forged))
			require.True(t, apierrors.IsForbidden(err), "%s: %v", who, err)
		}
		after := &kargoapi.NotificationSubscription{}
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(live), after))
		for _, e := range after.Status.Queue {
			require.NotEqual(t, "forged", e.ID)
		}
	})

	t.Run("a receiver on an address the outbound policy refuses is never reached", func(t *testing.T) {
		// Loopback is refused unless allowed: this receiver is not.
		require.NoError(t, env.Admin.Create(ctx, sub("loopback", kargoapi.NotificationSubscriptionSpec{Webhook: &kargoapi.WebhookNotification{URL: rx.URL + "/hook"}})))
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: project},
			Spec: kargoapi.WarehouseSpec{
				Interval:      &metav1.Duration{Duration: time.Hour},
				Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: "registry.invalid/app"}}},
			},
		}))
		f := egressFreight(t, project, "v9")
		kubetest.Eventually(t, 30*time.Second, "the delivery is refused by the outbound policy", func() (bool, string) {
			s := &kargoapi.NotificationSubscription{}
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: project, Name: "loopback"}, s))
			for _, c := range s.Status.Conditions {
				if c.Type == kargoapi.ConditionReady && c.Reason == kargoapi.ReasonOutboundRefused {
					return true, ""
				}
			}
			return false, "conditions " + f.Name
		})
		require.Zero(t, hits.Load(), "nothing reached the receiver")
	})
}
