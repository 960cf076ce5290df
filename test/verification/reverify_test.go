package verification

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// requestVerification sets the annotation that `kargo verify stage` asks
// the API server to set, with a new token each time. The CLI itself goes
// through the API server now: internal/cli and test/cli test it against
// the real server.
func requestVerification(t *testing.T, ns, stage, key string) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, key, time.Now().UTC().Format(time.RFC3339Nano))
	st := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: stage, Namespace: ns}}
	require.NoError(t, env.Admin.Patch(context.Background(), st, client.RawPatch("application/merge-patch+json", patch)))
}

// The abort annotation (`kargo verify stage NAME --abort`) stops a running
// verification, and the reverify annotation (`kargo verify stage NAME`)
// starts a new one.
func TestVerifyStageAgainAndAbort(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "reverify")
	ok := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ok.Close()
	controllers.AllowOutbound(t, ok.Listener.Addr().String())
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "uat", Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
			// Three measurements an hour apart: running until aborted.
			Verification: &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{{
				Name: "slow", URL: ok.URL, Count: 3, Interval: &metav1.Duration{Duration: time.Hour},
			}}},
		},
	}
	require.NoError(t, env.Admin.Create(ctx, st))
	f := objects.Freight(ns, objects.Image("nginx", "3.0.0"))
	require.NoError(t, env.Admin.Create(ctx, f))
	p := promote(t, ns, "uat", f)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	phase := func(want kargoapi.VerificationPhase) func() (bool, string) {
		return func() (bool, string) {
			v := getStage(t, ns, "uat").Status.Verification
			return v != nil && v.Phase == want, fmt.Sprintf("%+v", v)
		}
	}
	kubetest.Eventually(t, 30*time.Second, "verification running", phase(kargoapi.VerificationPhaseRunning))
	first := getStage(t, ns, "uat").Status.Verification.ID

	requestVerification(t, ns, "uat", kargoapi.AbortVerificationAnnotationKey)
	kubetest.Eventually(t, 30*time.Second, "verification aborted", phase(kargoapi.VerificationPhaseAborted))
	require.Empty(t, getFreight(t, f).Status.VerifiedIn)

	requestVerification(t, ns, "uat", kargoapi.ReverifyAnnotationKey)
	kubetest.Eventually(t, 30*time.Second, "a new verification runs", func() (bool, string) {
		s := getStage(t, ns, "uat").Status
		return s.Verification != nil && s.Verification.ID != first && s.Verification.Phase == kargoapi.VerificationPhaseRunning &&
			len(s.VerificationHistory) == 1 && s.VerificationHistory[0].ID == first, fmt.Sprintf("%+v / %+v", s.Verification, s.VerificationHistory)
	})
}
