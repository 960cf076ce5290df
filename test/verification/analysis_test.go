package verification

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/verification/analysis"
)

// The Stage runs its AnalysisTemplates as an AnalysisRun and mirrors its
// phase: a Successful run verifies the Freight, a Failed one does not.
func TestAnalysisRunIsMirrored(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "analysis")
	tmpl := &unstructured.Unstructured{}
	require.NoError(t, json.Unmarshal([]byte(fmt.Sprintf(`{"apiVersion":"argoproj.io/v1alpha1","kind":"AnalysisTemplate",
	  "metadata":{"name":"error-rate","namespace":%q},
	  "spec":{"metrics":[{"name":"errors","provider":{"prometheus":{"query":"sum(rate(errors[5m]))"}},"successCondition":"result[0] < 1"}]}}`, ns)), &tmpl.Object))
	require.NoError(t, env.Admin.Create(ctx, tmpl))
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "uat", Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
			Verification:  &kargoapi.Verification{AnalysisTemplates: []kargoapi.AnalysisTemplateReference{{Name: "error-rate"}}},
		},
	}
	require.NoError(t, env.Admin.Create(ctx, st))

	for _, tc := range []struct {
		tag, phase string
		verified   bool
	}{{"4.0.0", "Failed", false}, {"4.0.1", "Successful", true}} {
		f := newFreight(ns, tc.tag)
		require.NoError(t, env.Admin.Create(ctx, f))
		p := promote(t, ns, "uat", f)
		require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)

		var run string
		kubetest.Eventually(t, 30*time.Second, "an AnalysisRun for "+tc.tag, func() (bool, string) {
			v := getStage(t, ns, "uat").Status.Verification
			if v == nil || v.Freight != f.Name || v.AnalysisRun == nil {
				return false, fmt.Sprintf("%+v", v)
			}
			run = v.AnalysisRun.Name
			return true, ""
		})
		ar := &unstructured.Unstructured{}
		ar.SetGroupVersionKind(analysis.RunGVK)
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: run}, ar))
		metrics, _, _ := unstructured.NestedSlice(ar.Object, "spec", "metrics")
		require.Len(t, metrics, 1, "the template's metrics are copied into the run")

		// Play Argo Rollouts: the run ends with tc.phase.
		require.NoError(t, unstructured.SetNestedField(ar.Object, tc.phase, "status", "phase"))
		require.NoError(t, env.Admin.Status().Update(ctx, ar))

		want := kargoapi.VerificationPhaseFailed
		if tc.verified {
			want = kargoapi.VerificationPhaseSuccessful
		}
		kubetest.Eventually(t, 30*time.Second, "the verification mirrors "+tc.phase, func() (bool, string) {
			v := getStage(t, ns, "uat").Status.Verification
			return v != nil && v.Freight == f.Name && v.Phase == want, fmt.Sprintf("%+v", v)
		})
		_, verified := getFreight(t, f).Status.VerifiedIn["uat"]
		require.Equal(t, tc.verified, verified)
		require.Equal(t, tc.phase, getStage(t, ns, "uat").Status.Verification.AnalysisRun.Phase)
	}
}
