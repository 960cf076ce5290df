package analysis

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// These tests run against a real kube-apiserver with Argo Rollouts' own
// CRDs and its real controller (kubetest.WithArgoRollouts): kargo's Runner
// makes the AnalysisRun, Argo Rollouts measures it and sets its phase.

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env, kubetest.WithArgoRollouts) }

// runTimeout bounds how long Argo Rollouts may take to decide a run of a
// few one-second measurements on a busy machine.
const runTimeout = 90 * time.Second

// newStage creates, in a new project, a Stage that verifies with templates.
func newStage(t *testing.T, templates ...string) *kargoapi.Stage {
	t.Helper()
	st := objects.Stage(env.NewProject(t, "analysis"), "test", objects.AnalysisTemplates(templates...))
	require.NoError(t, env.Admin.Create(context.Background(), st))
	require.NotEmpty(t, st.UID)
	return st
}

// createTemplate creates an AnalysisTemplate called name in namespace; Argo
// Rollouts' CRD validates it.
func createTemplate(t *testing.T, namespace, name string, spec map[string]any) {
	t.Helper()
	tpl := template(name, spec)
	tpl.SetNamespace(namespace)
	require.NoError(t, env.Admin.Create(context.Background(), tpl))
}

func getRunIn(t *testing.T, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	run := &unstructured.Unstructured{}
	run.SetGroupVersionKind(RunGVK)
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, run))
	return run
}

// metricsService is the service a web metric measures: a loopback HTTP
// server whose answer the test sets, recording the requests it gets. Argo
// Rollouts' controller, a process of its own, calls it.
type metricsService struct {
	url    string
	mu     sync.Mutex
	status int
	body   string
	seen   []string
}

func newMetricsService(t *testing.T, status int, body string) *metricsService {
	t.Helper()
	s := &metricsService{status: status, body: body}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.seen = append(s.seen, r.URL.RequestURI())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		fmt.Fprint(w, s.body)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *metricsService) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// webMetric is a web metric of Argo Rollouts calling url once, unless
// extra says otherwise.
func webMetric(name, url string, extra map[string]any) map[string]any {
	m := map[string]any{"name": name, "provider": map[string]any{"web": map[string]any{"url": url}}}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// waitForEnd polls the run until Argo Rollouts has ended it, and returns
// what kargo reads of it.
func waitForEnd(t *testing.T, r *Runner, namespace, name string) RunStatus {
	t.Helper()
	var s RunStatus
	kubetest.Eventually(t, runTimeout, "Argo Rollouts ends AnalysisRun "+name, func() (bool, string) {
		var err error
		s, err = r.Status(context.Background(), namespace, name)
		require.NoError(t, err)
		switch s.Phase {
		case PhasePending, PhaseRunning:
			return false, fmt.Sprintf("%+v", s)
		}
		return true, ""
	})
	return s
}

// The templates' metrics, arguments, dryRun and measurementRetention
// settings go into one run that Argo Rollouts runs as kargo wrote it: the
// arguments reach the URL, a failing dry-run metric does not fail the run,
// and only as many measurements are kept as the retention says.
func TestAPIServerStartMergesTemplatesIntoOneOwnedRun(t *testing.T) {
	ctx := context.Background()
	svc := newMetricsService(t, http.StatusOK, `{"p99": 900, "errors": 0}`)
	st := newStage(t, "latency", "errors")
	latency := webMetric("p99", "{{args.base}}/latency?service={{args.service}}", map[string]any{"successCondition": "result.p99 < 500"})
	errorRate := webMetric("error-rate", "{{args.base}}/errors?service={{args.service}}", map[string]any{
		"successCondition": "result.errors == 0", "interval": "1s", "count": int64(3),
	})
	createTemplate(t, st.Namespace, "latency", map[string]any{
		"metrics": list(latency),
		"args":    list(map[string]any{"name": "service", "value": "web"}, map[string]any{"name": "base", "value": svc.url}),
		"dryRun":  list(map[string]any{"metricName": "p99"}),
	})
	createTemplate(t, st.Namespace, "errors", map[string]any{
		"metrics":              list(errorRate),
		"args":                 list(map[string]any{"name": "service"}, map[string]any{"name": "base"}),
		"measurementRetention": list(map[string]any{"metricName": "error-rate", "limit": int64(1)}),
	})
	r := &Runner{Client: env.Admin}

	name, err := r.Start(ctx, st, testFreight, "01j0000000")
	require.NoError(t, err)
	require.Equal(t, "test.01j0000000", name)

	run := getRunIn(t, st.Namespace, name)
	require.Equal(t, map[string]string{
		kargoapi.StageLabelKey:          st.Name,
		kargoapi.FreightLabelKey:        testFreight.Name,
		kargoapi.VerificationIDLabelKey: "01j0000000",
	}, run.GetLabels())
	require.Len(t, run.GetOwnerReferences(), 1)
	owner := run.GetOwnerReferences()[0]
	require.Equal(t, kargoapi.GroupVersion.String(), owner.APIVersion)
	require.Equal(t, "Stage", owner.Kind)
	require.Equal(t, st.Name, owner.Name)
	require.Equal(t, st.UID, owner.UID)
	spec := run.Object["spec"].(map[string]any)
	require.Equal(t, list(latency, errorRate), spec["metrics"])
	require.Equal(t, list(map[string]any{"name": "service", "value": "web"}, map[string]any{"name": "base", "value": svc.url}), spec["args"])
	require.Equal(t, list(map[string]any{"metricName": "p99"}), spec["dryRun"])
	require.Equal(t, list(map[string]any{"metricName": "error-rate", "limit": int64(1)}), spec["measurementRetention"])

	again, err := r.Start(ctx, st, testFreight, "01j0000000")
	require.NoError(t, err)
	require.Equal(t, name, again)
	// (Argo Rollouts' AnalysisRun has no status subresource: its status
	// writes change the generation, so compare the spec itself.)
	require.Equal(t, run.Object["spec"], getRunIn(t, st.Namespace, name).Object["spec"], "a second Start changed the run's spec")

	s := waitForEnd(t, r, st.Namespace, name)
	require.Equal(t, RunStatus{Phase: PhaseSuccessful}, s, "the dry-run metric p99 failed, which must not fail the run")
	require.Equal(t, kargoapi.VerificationPhaseSuccessful, ToVerificationPhase(s))
	require.Contains(t, svc.requests(), "/latency?service=web", "the merged arguments did not reach the URL")
	require.Contains(t, svc.requests(), "/errors?service=web")

	results := metricResults(t, getRunIn(t, st.Namespace, name))
	require.Equal(t, "Failed", results["p99"]["phase"], "the dry-run metric was measured and failed")
	require.Equal(t, int64(3), results["error-rate"]["count"], "three measurements of error-rate")
	kept, _, _ := unstructured.NestedSlice(results["error-rate"], "measurements")
	require.Len(t, kept, 1, "measurementRetention keeps one measurement of error-rate")
	dry, _, _ := unstructured.NestedInt64(getRunIn(t, st.Namespace, name).Object, "status", "dryRunSummary", "failed")
	require.Equal(t, int64(1), dry)
}

// metricResults returns status.metricResults of run by metric name.
func metricResults(t *testing.T, run *unstructured.Unstructured) map[string]map[string]any {
	t.Helper()
	raw, _, err := unstructured.NestedSlice(run.Object, "status", "metricResults")
	require.NoError(t, err)
	out := map[string]map[string]any{}
	for _, r := range raw {
		m := r.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

// Argo Rollouts' web provider decides each phase from what the service
// answers, and kargo reads the phase and message it sets.
func TestAPIServerWebMetricPhases(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		body         string
		metric       map[string]any
		wantPhase    string
		wantMessage  []string
		verification kargoapi.VerificationPhase
	}{{
		name:         "the answer satisfies successCondition",
		status:       http.StatusOK,
		body:         `{"errors": 0}`,
		metric:       map[string]any{"successCondition": "result.errors == 0"},
		wantPhase:    PhaseSuccessful,
		verification: kargoapi.VerificationPhaseSuccessful,
	}, {
		name:         "the answer does not satisfy successCondition",
		status:       http.StatusOK,
		body:         `{"errors": 3}`,
		metric:       map[string]any{"successCondition": "result.errors == 0"},
		wantPhase:    PhaseFailed,
		wantMessage:  []string{`Metric "m" assessed Failed due to failed (1) > failureLimit (0)`},
		verification: kargoapi.VerificationPhaseFailed,
	}, {
		name:   "the answer satisfies neither condition",
		status: http.StatusOK,
		body:   `{"errors": 3}`,
		metric: map[string]any{"successCondition": "result.errors == 0", "failureCondition": "result.errors > 5"},
		// Argo Rollouts leaves an Inconclusive run for a person to judge;
		// kargo does not verify on it.
		wantPhase:    PhaseInconclusive,
		wantMessage:  []string{`Metric "m" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)`},
		verification: kargoapi.VerificationPhaseFailed,
	}, {
		name:         "the service answers 500",
		status:       http.StatusInternalServerError,
		body:         `{"errors": 0}`,
		metric:       map[string]any{"successCondition": "result.errors == 0", "consecutiveErrorLimit": int64(0)},
		wantPhase:    PhaseError,
		wantMessage:  []string{`Metric "m" assessed Error due to consecutiveErrors (1) > consecutiveErrorLimit (0)`, "received non 2xx response code: 500"},
		verification: kargoapi.VerificationPhaseError,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := newMetricsService(t, tt.status, tt.body)
			st := newStage(t, "web")
			createTemplate(t, st.Namespace, "web", map[string]any{"metrics": list(webMetric("m", svc.url+"/metrics", tt.metric))})
			r := &Runner{Client: env.Admin}
			name, err := r.Start(context.Background(), st, testFreight, "v1")
			require.NoError(t, err)

			s := waitForEnd(t, r, st.Namespace, name)
			require.Equal(t, tt.wantPhase, s.Phase, s.Message)
			require.False(t, s.Terminated)
			if tt.wantMessage == nil {
				require.Empty(t, s.Message)
			}
			for _, part := range tt.wantMessage {
				require.Contains(t, s.Message, part)
			}
			require.Equal(t, tt.verification, ToVerificationPhase(s))
			require.Contains(t, svc.requests(), "/metrics")
		})
	}
}

// Abort asks Argo Rollouts to stop a run; it ends it as Successful, with
// the message "Run Terminated", which kargo must not take for a pass.
func TestAPIServerAbortTerminatesTheRun(t *testing.T) {
	ctx := context.Background()
	svc := newMetricsService(t, http.StatusOK, `{"errors": 0}`)
	st := newStage(t, "slow")
	createTemplate(t, st.Namespace, "slow", map[string]any{"metrics": list(webMetric("m", svc.url, map[string]any{
		"successCondition": "result.errors == 0", "interval": "1s", "count": int64(1000),
	}))})
	r := &Runner{Client: env.Admin}
	name, err := r.Start(ctx, st, testFreight, "v1")
	require.NoError(t, err)
	kubetest.Eventually(t, runTimeout, "Argo Rollouts measures", func() (bool, string) {
		s, err := r.Status(ctx, st.Namespace, name)
		require.NoError(t, err)
		return s.Phase == PhaseRunning && len(svc.requests()) > 0, fmt.Sprintf("%+v, %d requests", s, len(svc.requests()))
	})

	require.NoError(t, r.Abort(ctx, st.Namespace, name))
	s := waitForEnd(t, r, st.Namespace, name)
	require.Equal(t, RunStatus{Phase: PhaseSuccessful, Message: "Run Terminated", Terminated: true}, s)
	require.Equal(t, kargoapi.VerificationPhaseAborted, ToVerificationPhase(s))
	require.Equal(t, list(webMetric("m", svc.url, map[string]any{
		"successCondition": "result.errors == 0", "interval": "1s", "count": int64(1000),
	})), getRunIn(t, st.Namespace, name).Object["spec"].(map[string]any)["metrics"], "the patch changed the metrics")

	require.True(t, apierrors.IsNotFound(r.Abort(ctx, st.Namespace, "never-started")))
}

// A Job metric makes Argo Rollouts create a Job in the Stage's namespace,
// which it reads back for the result. The API server here runs no kubelet
// (and no kube-controller-manager), so the Job's Pod never runs and the
// measurement never completes: this test checks what can be seen without
// one (the Job, a Running run, a Running verification). The Job's result
// reaching the run needs a cluster with a kubelet, which make test-cluster
// has and this package has not.
func TestAPIServerJobMetricNeedsAKubelet(t *testing.T) {
	ctx := context.Background()
	st := newStage(t, "job")
	createTemplate(t, st.Namespace, "job", map[string]any{"metrics": list(map[string]any{
		"name": "smoke",
		"provider": map[string]any{"job": map[string]any{"spec": map[string]any{
			"backoffLimit": int64(0),
			"template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Never",
				"containers":    []any{map[string]any{"name": "smoke", "image": "busybox", "command": []any{"true"}}},
			}},
		}}},
	})})
	r := &Runner{Client: env.Admin}
	name, err := r.Start(ctx, st, testFreight, "v1")
	require.NoError(t, err)
	run := getRunIn(t, st.Namespace, name)

	kubetest.Eventually(t, runTimeout, "Argo Rollouts creates the Job", func() (bool, string) {
		jobs := &batchv1.JobList{}
		require.NoError(t, env.Admin.List(ctx, jobs, client.InNamespace(st.Namespace)))
		for _, j := range jobs.Items {
			for _, o := range j.OwnerReferences {
				if o.UID == run.GetUID() {
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("%d Jobs, none owned by the run", len(jobs.Items))
	})
	// Argo Rollouts writes the run's status after creating the Job.
	kubetest.Eventually(t, runTimeout, "the run is Running", func() (bool, string) {
		s, err := r.Status(ctx, st.Namespace, name)
		require.NoError(t, err)
		return s.Phase == PhaseRunning, fmt.Sprintf("%+v", s)
	})
	s, err := r.Status(ctx, st.Namespace, name)
	require.NoError(t, err)
	require.Equal(t, kargoapi.VerificationPhaseRunning, ToVerificationPhase(s))
}

func TestAPIServerStartRefusesBadTemplates(t *testing.T) {
	tests := []struct {
		name      string
		templates map[string]map[string]any
		// elsewhere makes templates outside the Stage's namespace.
		elsewhere func(t *testing.T)
		refs      []string
		wantErr   []string
		// namesNamespace says the message must name the Stage's namespace.
		namesNamespace bool
	}{{
		name:           "missing template",
		templates:      map[string]map[string]any{"present": {"metrics": list(metric("up"))}},
		refs:           []string{"present", "absent"},
		wantErr:        []string{`AnalysisTemplate "absent" not found in namespace`},
		namesNamespace: true,
	}, {
		name: "duplicate metric",
		templates: map[string]map[string]any{
			"web": {"metrics": list(metric("up"), metric("latency"))},
			"api": {"metrics": list(metric("latency"))},
		},
		refs:    []string{"web", "api"},
		wantErr: []string{`metric "latency"`, `AnalysisTemplate "web"`, `AnalysisTemplate "api"`},
	}, {
		// A Stage names templates of its own namespace only: one of the
		// same name in another project, or a ClusterAnalysisTemplate, is
		// not found.
		name: "a template of another namespace or of the cluster",
		elsewhere: func(t *testing.T) {
			createTemplate(t, env.NewProject(t, "other"), "shared", map[string]any{"metrics": list(metric("up"))})
			cluster := template("shared", map[string]any{"metrics": list(metric("up"))})
			cluster.SetKind("ClusterAnalysisTemplate")
			require.NoError(t, env.Admin.Create(context.Background(), cluster))
			t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), cluster) })
		},
		refs:           []string{"shared"},
		wantErr:        []string{`AnalysisTemplate "shared" not found in namespace`},
		namesNamespace: true,
	}, {
		name: "a template that includes a ClusterAnalysisTemplate",
		templates: map[string]map[string]any{
			"composed": {"metrics": list(metric("up")), "templates": list(map[string]any{"templateName": "shared", "clusterScope": true})},
		},
		refs:    []string{"composed"},
		wantErr: []string{`AnalysisTemplate "composed" includes other templates (spec.templates)`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := newStage(t, tt.refs...)
			for name, spec := range tt.templates {
				createTemplate(t, st.Namespace, name, spec)
			}
			if tt.elsewhere != nil {
				tt.elsewhere(t)
			}
			_, err := (&Runner{Client: env.Admin}).Start(ctx, st, testFreight, "v1")
			require.ErrorIs(t, err, sourceerr.ErrInvalid)
			if tt.namesNamespace {
				require.ErrorContains(t, err, fmt.Sprintf("namespace %q", st.Namespace))
			}
			for _, part := range tt.wantErr {
				require.ErrorContains(t, err, part)
			}
			runs := &unstructured.UnstructuredList{}
			runs.SetGroupVersionKind(RunGVK.GroupVersion().WithKind("AnalysisRunList"))
			require.NoError(t, env.Admin.List(ctx, runs, client.InNamespace(st.Namespace)))
			require.Empty(t, runs.Items, "a run was made from bad templates")
		})
	}
}
