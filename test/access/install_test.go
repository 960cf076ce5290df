package access

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/webhook"
)

// The running controller registered its webhooks: every kargo kind is
// covered, each fails closed, and each trusts the CA in the Secret the
// controller keeps.
func TestWebhooksAreRegistered(t *testing.T) {
	ctx := context.Background()
	secret := &corev1.Secret{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: install.Namespace, Name: webhook.SecretName}, secret))
	bundle := secret.Data["ca-bundle.crt"]
	require.NotEmpty(t, bundle)

	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: webhook.ConfigurationName}, validating))
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: webhook.ConfigurationName}, mutating))

	covered := map[string]bool{}
	for _, w := range validating.Webhooks {
		require.Equal(t, admissionregistrationv1.Fail, *w.FailurePolicy, w.Name)
		require.Equal(t, bundle, w.ClientConfig.CABundle, w.Name)
		for _, r := range w.Rules {
			for _, res := range r.Resources {
				covered[res] = true
			}
		}
	}
	for _, kind := range []string{"freights", "notificationsubscriptions", "projects", "promotionpolicies", "promotions", "promotiontasks", "stages", "warehouses"} {
		require.True(t, covered[kind], "no validating webhook for %s", kind)
	}
	// Freight (its creator) and Promotions (their creator and their
	// Stage's steps) are filled in by kargo, never by the request.
	mutated := map[string]bool{}
	for _, w := range mutating.Webhooks {
		require.Equal(t, admissionregistrationv1.Fail, *w.FailurePolicy, w.Name)
		require.Equal(t, bundle, w.ClientConfig.CABundle, w.Name)
		for _, r := range w.Rules {
			for _, res := range r.Resources {
				mutated[res] = true
			}
		}
	}
	require.Equal(t, map[string]bool{"freights": true, "promotions": true}, mutated)
}
