package verification

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/metricstest"
	"github.com/kargohq/kargo/internal/verification/httpcheck"
)

func TestCombine(t *testing.T) {
	const (
		run  = kargoapi.VerificationPhaseRunning
		ok   = kargoapi.VerificationPhaseSuccessful
		fail = kargoapi.VerificationPhaseFailed
		errp = kargoapi.VerificationPhaseError
	)
	for _, tc := range []struct {
		in   []kargoapi.VerificationPhase
		want kargoapi.VerificationPhase
	}{
		{nil, ok},
		{[]kargoapi.VerificationPhase{ok, ok}, ok},
		{[]kargoapi.VerificationPhase{ok, run}, run},
		{[]kargoapi.VerificationPhase{run, fail}, fail},
		{[]kargoapi.VerificationPhase{fail, errp}, errp},
		{[]kargoapi.VerificationPhase{run, kargoapi.VerificationPhaseAborted}, fail},
	} {
		require.Equal(t, tc.want, Combine(tc.in), "%v", tc.in)
	}
}

// fixture is a Stage holding one Freight, with an HTTP check against srv.
func fixture(t *testing.T, url string, count int32, interval time.Duration) (*Verifier, *kargoapi.Stage, client.Client) {
	t.Helper()
	s, err := scheme.New()
	require.NoError(t, err)
	f := &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Name: "f1", Namespace: "p"}}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(f).WithStatusSubresource(f).Build()
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "uat", Namespace: "p", Annotations: map[string]string{}},
		Spec: kargoapi.StageSpec{Verification: &kargoapi.Verification{HTTP: []kargoapi.HTTPCheck{{
			Name: "smoke", URL: url, Count: count, Interval: &metav1.Duration{Duration: interval},
		}}}},
		Status: kargoapi.StageStatus{CurrentFreight: &kargoapi.SimpleFreight{ID: "f1"}},
	}
	// The check may reach exactly its own (loopback) server.
	u, err := neturl.Parse(url)
	require.NoError(t, err)
	policy := egress.New(egress.Options{Allow: egress.MustParseRules(u.Host)})
	return &Verifier{Client: c, HTTP: httpcheck.NewClient(httpcheck.ClientOptions{Egress: policy})}, st, c
}

// stepUntil steps the verification until it ends or the deadline passes.
func stepUntil(t *testing.T, v *Verifier, st *kargoapi.Stage) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, err := v.Step(context.Background(), st)
		require.NoError(t, err)
		if st.Status.Verification.Phase.IsTerminal() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("verification did not end: %+v", st.Status.Verification)
}

func verifiedIn(t *testing.T, c client.Client) map[string]kargoapi.VerifiedStage {
	t.Helper()
	f := &kargoapi.Freight{}
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "p", Name: "f1"}, f))
	return f.Status.VerifiedIn
}

func TestPassingCheckVerifiesTheFreight(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	v, st, c := fixture(t, srv.URL, 2, time.Millisecond)
	stepUntil(t, v, st)
	require.Equal(t, kargoapi.VerificationPhaseSuccessful, st.Status.Verification.Phase)
	require.Equal(t, int32(2), st.Status.Verification.Checks[0].Measurements)
	require.Equal(t, kargoapi.StagePhaseSteady, st.Status.Phase)
	require.True(t, meta.IsStatusConditionTrue(st.Status.Conditions, kargoapi.ConditionVerified))
	got := verifiedIn(t, c)
	require.Contains(t, got, "uat")
	require.NotNil(t, got["uat"].VerifiedAt, "soak times count from verifiedAt")
}

func TestFailingCheckLeavesItUnverified(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer srv.Close()
	v, st, c := fixture(t, srv.URL, 1, time.Millisecond)
	stepUntil(t, v, st)
	require.Equal(t, kargoapi.VerificationPhaseFailed, st.Status.Verification.Phase)
	require.Contains(t, st.Status.Verification.Message, "http check smoke")
	require.Contains(t, st.Status.Verification.Message, "503")
	require.Equal(t, kargoapi.StagePhaseFailed, st.Status.Phase)
	cond := meta.FindStatusCondition(st.Status.Conditions, kargoapi.ConditionVerified)
	require.NotNil(t, cond)
	require.Equal(t, metav1.ConditionFalse, cond.Status)
	require.Contains(t, cond.Message, "stays unverified")
	require.Empty(t, verifiedIn(t, c))
}

func TestReverifyAndAbort(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	// Three measurements an hour apart: the verification runs until aborted.
	v, st, c := fixture(t, srv.URL, 3, time.Hour)
	_, err := v.Step(context.Background(), st)
	require.NoError(t, err)
	require.Equal(t, kargoapi.VerificationPhasePending, st.Status.Verification.Phase, "nothing runs before the verification's ID is written")
	_, err = v.Step(context.Background(), st)
	require.NoError(t, err)
	require.Equal(t, kargoapi.VerificationPhaseRunning, st.Status.Verification.Phase)
	first := st.Status.Verification.ID

	st.Annotations[kargoapi.AbortVerificationAnnotationKey] = "1"
	_, err = v.Step(context.Background(), st)
	require.NoError(t, err)
	require.Equal(t, kargoapi.VerificationPhaseAborted, st.Status.Verification.Phase)
	require.Empty(t, verifiedIn(t, c))
	_, err = v.Step(context.Background(), st)
	require.NoError(t, err)
	require.Equal(t, kargoapi.VerificationPhaseAborted, st.Status.Verification.Phase, "an abort token is acted on once")

	st.Annotations[kargoapi.ReverifyAnnotationKey] = "1"
	_, err = v.Step(context.Background(), st)
	require.NoError(t, err)
	require.NotEqual(t, first, st.Status.Verification.ID)
	require.Equal(t, kargoapi.VerificationPhasePending, st.Status.Verification.Phase)
	_, err = v.Step(context.Background(), st)
	require.NoError(t, err)
	require.Equal(t, kargoapi.VerificationPhaseRunning, st.Status.Verification.Phase)
	require.Len(t, st.Status.VerificationHistory, 1)
	require.Equal(t, first, st.Status.VerificationHistory[0].ID)
}

// With Argo CD Applications, checks wait for the Stage to be healthy, and
// an unhealthy Stage fails a running verification.
func TestHealthGatesVerification(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	v, st, c := fixture(t, srv.URL, 1, time.Millisecond)
	st.Spec.PromotionMechanisms = &kargoapi.PromotionMechanisms{ArgoCDAppUpdates: []kargoapi.ArgoCDAppUpdate{{AppName: "app"}}}
	health := kargoapi.Health{Status: kargoapi.HealthStateProgressing, Issues: []string{"Application argocd/app is syncing"}}
	v.Health = func(context.Context, *kargoapi.Stage) kargoapi.Health { return health }

	after, err := v.Step(context.Background(), st)
	require.NoError(t, err)
	require.NotZero(t, after)
	require.Equal(t, kargoapi.VerificationPhasePending, st.Status.Verification.Phase)
	require.Contains(t, st.Status.Verification.Message, "waiting for the Stage to become healthy")
	require.Equal(t, kargoapi.HealthStateProgressing, st.Status.CurrentFreight.Health.Status)
	require.Equal(t, kargoapi.StagePhaseVerifying, st.Status.Phase)

	health = kargoapi.Health{Status: kargoapi.HealthStateHealthy}
	stepUntil(t, v, st)
	require.Equal(t, kargoapi.VerificationPhaseSuccessful, st.Status.Verification.Phase)
	require.True(t, meta.IsStatusConditionTrue(st.Status.Conditions, kargoapi.ConditionHealthy))
	require.Contains(t, verifiedIn(t, c), "uat")
}

// A pass whose status write is lost (another writer changed the Stage
// first) leaves the next pass reading the verification as it was before:
// that pass adopts what the lost one did, and neither starts the checks
// again nor counts the verification twice.
func TestLostStatusWriteStartsAndEndsOnce(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	v, st, _ := fixture(t, srv.URL, 1, time.Millisecond)
	st.Namespace = fmt.Sprintf("lost-write-%d", time.Now().UnixNano()) // a namespace of its own: the metrics are process-wide
	labels := map[string]string{"project": st.Namespace, "stage": st.Name}
	_, err := v.Step(context.Background(), st)
	require.NoError(t, err)
	written := st.DeepCopy() // the pending verification, with its ID, is written

	started := written.DeepCopy()
	_, err = v.Step(context.Background(), started)
	require.NoError(t, err)
	require.Equal(t, kargoapi.VerificationPhaseRunning, started.Status.Verification.Phase)
	// ...and that write is lost: the next passes read written again.
	require.Eventually(t, func() bool {
		v.mu.Lock()
		run := v.runs[runKey(started, started.Status.Verification)]
		v.mu.Unlock()
		return run != nil && run.snapshot()[0].Phase == kargoapi.VerificationPhaseFailed
	}, 10*time.Second, 5*time.Millisecond, "the check ends")
	for range 3 {
		again := written.DeepCopy()
		_, err = v.Step(context.Background(), again)
		require.NoError(t, err)
		require.Equal(t, kargoapi.VerificationPhaseFailed, again.Status.Verification.Phase)
		require.Equal(t, started.Status.Verification.ID, again.Status.Verification.ID)
	}
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, int32(1), hits.Load(), "the check ran once")
	require.Equal(t, 1.0, metricstest.Value(t, "kargo_verifications_started_total", labels))
	labels["outcome"] = string(kargoapi.VerificationPhaseFailed)
	require.Equal(t, 1.0, metricstest.Value(t, "kargo_verifications_finished_total", labels))

	// A Stage that is gone leaves nothing behind.
	v.Forget(st.Namespace, st.Name)
	v.mu.Lock()
	require.Empty(t, v.last)
	v.mu.Unlock()
}
