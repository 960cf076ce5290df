package verification

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/localcp"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
	"github.com/kargohq/kargo/internal/verification/analysis"
)

// analysisTimeout bounds how long the real Argo Rollouts may take to decide
// a run, and kargo to mirror it, on a busy machine.
const analysisTimeout = 90 * time.Second

// analysisService is what a web metric measures: a loopback HTTP server
// whose answer the test sets. Argo Rollouts' controller, not kargo, calls
// it, so kargo's outbound address policy (which refuses loopback) does not
// apply and the test allows no address.
type analysisService struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   string
}

func newAnalysisService(t *testing.T) *analysisService {
	t.Helper()
	s := &analysisService{status: http.StatusOK, body: "{}"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		fmt.Fprint(w, s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *analysisService) answer(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

// analysisStage creates an AnalysisTemplate "smoke" with one web metric on
// url (extra adds fields to the metric) and a Stage "uat" that verifies
// with it.
func analysisStage(t *testing.T, ns, url string, extra map[string]any) {
	t.Helper()
	ctx := context.Background()
	m := map[string]any{
		"name":                  "healthy",
		"provider":              map[string]any{"web": map[string]any{"url": url, "jsonPath": "{$.healthy}"}},
		"successCondition":      "result == true",
		"consecutiveErrorLimit": int64(0),
	}
	for k, v := range extra {
		m[k] = v
	}
	tmpl := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"metrics": []any{m}}}}
	tmpl.SetGroupVersionKind(analysis.TemplateGVK)
	tmpl.SetNamespace(ns)
	tmpl.SetName("smoke")
	require.NoError(t, env.Admin.Create(ctx, tmpl))
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "uat", Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
			Verification:  &kargoapi.Verification{AnalysisTemplates: []kargoapi.AnalysisTemplateReference{{Name: "smoke"}}},
		},
	}))
}

// verificationOf waits until the uat Stage verifies f with an AnalysisRun
// and returns the run's name.
func verificationOf(t *testing.T, ns string, f *kargoapi.Freight) string {
	t.Helper()
	var run string
	kubetest.Eventually(t, 30*time.Second, "an AnalysisRun for "+f.Name, func() (bool, string) {
		v := getStage(t, ns, "uat").Status.Verification
		if v == nil || v.Freight != f.Name || v.AnalysisRun == nil {
			return false, fmt.Sprintf("%+v", v)
		}
		run = v.AnalysisRun.Name
		return true, ""
	})
	return run
}

// The Stage's AnalysisTemplate runs as an AnalysisRun that the real Argo
// Rollouts measures with its web provider, and the Stage mirrors what Argo
// Rollouts decides: Freight is verified only when the service's JSON
// satisfies successCondition, and the Stage's message carries Argo
// Rollouts' reason otherwise.
func TestAnalysisRunIsMirrored(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "analysis")
	svc := newAnalysisService(t)
	analysisStage(t, ns, svc.URL+"/health", nil)

	for _, tc := range []struct {
		tag, why     string
		status       int
		body         string
		runPhase     string
		verification kargoapi.VerificationPhase
		message      []string
	}{{
		tag: "4.0.0", why: "successCondition is false",
		status: http.StatusOK, body: `{"healthy": false}`,
		runPhase: analysis.PhaseFailed, verification: kargoapi.VerificationPhaseFailed,
		message: []string{"is Failed", `Metric "healthy" assessed Failed due to failed (1) > failureLimit (0)`},
	}, {
		tag: "4.0.1", why: "the service answers 500",
		status: http.StatusInternalServerError, body: `{"healthy": true}`,
		runPhase: analysis.PhaseError, verification: kargoapi.VerificationPhaseError,
		message: []string{"is Error", "received non 2xx response code: 500"},
	}, {
		tag: "4.0.2", why: "successCondition is true",
		status: http.StatusOK, body: `{"healthy": true}`,
		runPhase: analysis.PhaseSuccessful, verification: kargoapi.VerificationPhaseSuccessful,
	}} {
		t.Run(tc.tag+" "+tc.why, func(t *testing.T) {
			svc.answer(tc.status, tc.body)
			f := objects.Freight(ns, objects.Image("nginx", tc.tag))
			require.NoError(t, env.Admin.Create(ctx, f))
			p := promote(t, ns, "uat", f)
			require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
			run := verificationOf(t, ns, f)

			kubetest.Eventually(t, analysisTimeout, "the verification mirrors Argo Rollouts", func() (bool, string) {
				v := getStage(t, ns, "uat").Status.Verification
				return v != nil && v.Freight == f.Name && v.Phase.IsTerminal(), fmt.Sprintf("%+v", v)
			})
			v := getStage(t, ns, "uat").Status.Verification
			require.Equal(t, tc.verification, v.Phase, v.Message)
			require.Equal(t, tc.runPhase, v.AnalysisRun.Phase)
			for _, part := range tc.message {
				require.Contains(t, v.Message, part)
			}
			if tc.message == nil {
				require.Empty(t, v.Message)
			}
			_, verified := getFreight(t, f).Status.VerifiedIn["uat"]
			require.Equal(t, tc.verification == kargoapi.VerificationPhaseSuccessful, verified)

			ar := &unstructured.Unstructured{}
			ar.SetGroupVersionKind(analysis.RunGVK)
			require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: run}, ar))
			phase, _, _ := unstructured.NestedString(ar.Object, "status", "phase")
			require.Equal(t, tc.runPhase, phase, "the Stage reports what Argo Rollouts wrote")
		})
	}
}

// Argo Rollouts ends a terminated run as Successful ("Run Terminated")
// unless a metric had failed already. Only kargo and Argo Rollouts may
// change kargo's runs (test/security: a user who may patch AnalysisRuns is
// refused), but a run terminated by either must not verify the Freight:
// the verification fails, saying the run was terminated. The test
// terminates it as Argo Rollouts' controller.
func TestTerminatedAnalysisRunDoesNotVerify(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "analysis")
	svc := newAnalysisService(t)
	svc.answer(http.StatusOK, `{"healthy": true}`)
	// A measurement a second, a thousand times: running until stopped.
	analysisStage(t, ns, svc.URL, map[string]any{"interval": "1s", "count": int64(1000)})
	f := objects.Freight(ns, objects.Image("nginx", "5.0.0"))
	require.NoError(t, env.Admin.Create(ctx, f))
	p := promote(t, ns, "uat", f)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	run := verificationOf(t, ns, f)
	kubetest.Eventually(t, analysisTimeout, "Argo Rollouts measures", func() (bool, string) {
		v := getStage(t, ns, "uat").Status.Verification
		return v.AnalysisRun.Phase == analysis.PhaseRunning, fmt.Sprintf("%+v", v)
	})

	ar := &unstructured.Unstructured{}
	ar.SetGroupVersionKind(analysis.RunGVK)
	ar.SetNamespace(ns)
	ar.SetName(run)
	user, groups := localcp.ArgoRolloutsUser()
	cfg, err := env.UserConfig(user, groups...)
	require.NoError(t, err)
	rollouts, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	require.NoError(t, rollouts.Patch(ctx, ar, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"terminate":true}}`))))

	kubetest.Eventually(t, analysisTimeout, "the verification ends", func() (bool, string) {
		v := getStage(t, ns, "uat").Status.Verification
		return v.Phase.IsTerminal(), fmt.Sprintf("%+v", v)
	})
	v := getStage(t, ns, "uat").Status.Verification
	require.Equal(t, kargoapi.VerificationPhaseFailed, v.Phase)
	require.Equal(t, analysis.PhaseSuccessful, v.AnalysisRun.Phase, "Argo Rollouts calls a terminated run Successful")
	require.Contains(t, v.Message, "was terminated before its metrics finished: Run Terminated")
	require.Empty(t, getFreight(t, f).Status.VerifiedIn)
}

// Aborting a verification (`kargo verify stage --abort`) asks Argo
// Rollouts to terminate the run, which it does; the Stage's verification
// stays Aborted and the Freight unverified.
func TestAbortedVerificationTerminatesTheAnalysisRun(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "analysis")
	svc := newAnalysisService(t)
	svc.answer(http.StatusOK, `{"healthy": true}`)
	analysisStage(t, ns, svc.URL, map[string]any{"interval": "1s", "count": int64(1000)})
	f := objects.Freight(ns, objects.Image("nginx", "6.0.0"))
	require.NoError(t, env.Admin.Create(ctx, f))
	p := promote(t, ns, "uat", f)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	run := verificationOf(t, ns, f)

	requestVerification(t, ns, "uat", kargoapi.AbortVerificationAnnotationKey)
	kubetest.Eventually(t, analysisTimeout, "Argo Rollouts terminates the run", func() (bool, string) {
		ar := &unstructured.Unstructured{}
		ar.SetGroupVersionKind(analysis.RunGVK)
		require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: run}, ar))
		phase, _, _ := unstructured.NestedString(ar.Object, "status", "phase")
		message, _, _ := unstructured.NestedString(ar.Object, "status", "message")
		return phase == analysis.PhaseSuccessful && message == "Run Terminated", phase + ": " + message
	})
	v := getStage(t, ns, "uat").Status.Verification
	require.Equal(t, kargoapi.VerificationPhaseAborted, v.Phase, v.Message)
	require.True(t, strings.HasPrefix(v.Message, "aborted"), v.Message)
	require.Empty(t, getFreight(t, f).Status.VerifiedIn)
}
