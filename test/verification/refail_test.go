package verification

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// Freight verified in uat whose re-verification there fails is no longer
// available to prod because of uat, and cannot be promoted there, until
// uat verifies it again.
func TestFailedReverificationWithdrawsFreightDownstream(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "refail")
	var status atomic.Int32
	status.Store(http.StatusOK)
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(status.Load())) }))
	defer check.Close()
	controllers.AllowOutbound(t, check.Listener.Addr().String())
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "uat", Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
			Verification:  &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{{Name: "smoke", URL: check.URL}}},
		},
	}))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: ns},
		Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "uat"}}}},
	}))
	f := objects.Freight(ns, objects.Image("nginx", "4.0.0"))
	require.NoError(t, env.Admin.Create(ctx, f))
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, promote(t, ns, "uat", f).Status.Phase)

	availableInProd := func(want bool) func() (bool, string) {
		return func() (bool, string) {
			avail := getStage(t, ns, "prod").Status.AvailableFreight
			has := slices.ContainsFunc(avail, func(s kargoapi.SimpleFreight) bool { return s.ID == f.Name })
			return has == want, fmt.Sprintf("prod's available Freight %v; verified in %v", avail, keys(getFreight(t, f).Status.VerifiedIn))
		}
	}
	kubetest.Eventually(t, 30*time.Second, "verified in uat, available in prod", availableInProd(true))

	status.Store(http.StatusInternalServerError)
	requestVerification(t, ns, "uat", kargoapi.ReverifyAnnotationKey)
	kubetest.Eventually(t, 30*time.Second, "re-verification fails", func() (bool, string) {
		v := getStage(t, ns, "uat").Status.Verification
		return v != nil && v.Phase == kargoapi.VerificationPhaseFailed, fmt.Sprintf("%+v", v)
	})
	kubetest.Eventually(t, 30*time.Second, "no longer available in prod", availableInProd(false))
	require.NotContains(t, getFreight(t, f).Status.VerifiedIn, "uat")
	p := promote(t, ns, "prod", f)
	require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase, p.Status.Message)
	require.Contains(t, p.Status.Message, "not verified in upstream Stage uat")

	status.Store(http.StatusOK)
	requestVerification(t, ns, "uat", kargoapi.ReverifyAnnotationKey)
	kubetest.Eventually(t, 30*time.Second, "verified again, available in prod again", availableInProd(true))
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, promote(t, ns, "prod", f).Status.Phase)
}
