package analysis

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env, installArgoRolloutsCRDs) }

// installArgoRolloutsCRDs installs the test CRDs of AnalysisTemplate and
// AnalysisRun and waits until both kinds are served.
func installArgoRolloutsCRDs(e *kubetest.Env) (func(), error) {
	return func() {}, InstallTestCRDs(context.Background(), e.Admin)
}

// newStage creates, in a new project, a Stage that verifies with templates.
func newStage(t *testing.T, templates ...string) *kargoapi.Stage {
	t.Helper()
	st := &kargoapi.Stage{}
	st.Namespace = env.NewProject(t, "analysis")
	st.Name = "test"
	st.Spec.Verification = &kargoapi.Verification{}
	for _, name := range templates {
		st.Spec.Verification.AnalysisTemplates = append(st.Spec.Verification.AnalysisTemplates, kargoapi.AnalysisTemplateReference{Name: name})
	}
	require.NoError(t, env.Admin.Create(context.Background(), st))
	require.NotEmpty(t, st.UID)
	return st
}

// createTemplate creates an AnalysisTemplate called name in namespace.
func createTemplate(t *testing.T, namespace, name string, spec map[string]any) {
	t.Helper()
	tpl := template(name, spec)
	tpl.SetNamespace(namespace)
	require.NoError(t, env.Admin.Create(context.Background(), tpl))
}

// setRunStatus plays Argo Rollouts: it writes the run's status through the
// status subresource, as Argo Rollouts' controller does.
func setRunStatus(t *testing.T, namespace, name, phase, message string) {
	t.Helper()
	run := &unstructured.Unstructured{}
	run.SetGroupVersionKind(RunGVK)
	run.SetNamespace(namespace)
	run.SetName(name)
	patch := fmt.Sprintf(`{"status":{"phase":%q,"message":%q}}`, phase, message)
	require.NoError(t, env.Admin.Status().Patch(context.Background(), run, client.RawPatch(types.MergePatchType, []byte(patch))))
}

func getRunIn(t *testing.T, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	run := &unstructured.Unstructured{}
	run.SetGroupVersionKind(RunGVK)
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, run))
	return run
}

func TestAPIServerStartMergesTemplatesIntoOneOwnedRun(t *testing.T) {
	ctx := context.Background()
	st := newStage(t, "latency", "errors")
	createTemplate(t, st.Namespace, "latency", map[string]any{
		"metrics": list(metric("p99")),
		"args":    list(map[string]any{"name": "service", "value": "web"}),
		"dryRun":  list(map[string]any{"metricName": "p99"}),
	})
	createTemplate(t, st.Namespace, "errors", map[string]any{
		"metrics":              list(metric("error-rate")),
		"args":                 list(map[string]any{"name": "service"}),
		"measurementRetention": list(map[string]any{"metricName": "error-rate", "limit": int64(10)}),
	})
	r := &Runner{Client: env.Admin}

	name, err := r.Start(ctx, st, testFreight, "01j0000000")
	require.NoError(t, err)
	require.Equal(t, "test.01j0000000", name)

	run := getRunIn(t, st.Namespace, name)
	require.Equal(t, map[string]string{
		StageLabelKey:          st.Name,
		FreightLabelKey:        testFreight.Name,
		VerificationIDLabelKey: "01j0000000",
	}, run.GetLabels())
	require.Len(t, run.GetOwnerReferences(), 1)
	owner := run.GetOwnerReferences()[0]
	require.Equal(t, kargoapi.GroupVersion.String(), owner.APIVersion)
	require.Equal(t, "Stage", owner.Kind)
	require.Equal(t, st.Name, owner.Name)
	require.Equal(t, st.UID, owner.UID)
	require.Equal(t, map[string]any{
		"metrics":              list(metric("p99"), metric("error-rate")),
		"args":                 list(map[string]any{"name": "service", "value": "web"}),
		"dryRun":               list(map[string]any{"metricName": "p99"}),
		"measurementRetention": list(map[string]any{"metricName": "error-rate", "limit": int64(10)}),
	}, run.Object["spec"])

	again, err := r.Start(ctx, st, testFreight, "01j0000000")
	require.NoError(t, err)
	require.Equal(t, name, again)
	require.Equal(t, run.GetResourceVersion(), getRunIn(t, st.Namespace, name).GetResourceVersion(), "a second Start changed the run")
}

func TestAPIServerPhaseMirrorsTheRunsStatus(t *testing.T) {
	ctx := context.Background()
	st := newStage(t, "smoke")
	createTemplate(t, st.Namespace, "smoke", map[string]any{"metrics": list(metric("up"))})
	r := &Runner{Client: env.Admin}

	first, err := r.Start(ctx, st, testFreight, "first")
	require.NoError(t, err)
	phase, _, err := r.Phase(ctx, st.Namespace, first)
	require.NoError(t, err)
	require.Equal(t, PhasePending, phase, "a run Argo Rollouts has not seen yet")

	for _, tt := range []struct {
		run          string
		verification kargoapi.VerificationPhase
	}{
		{PhaseRunning, kargoapi.VerificationPhaseRunning},
		{PhaseSuccessful, kargoapi.VerificationPhaseSuccessful},
	} {
		setRunStatus(t, st.Namespace, first, tt.run, "")
		phase, message, err := r.Phase(ctx, st.Namespace, first)
		require.NoError(t, err)
		require.Equal(t, tt.run, phase)
		require.Empty(t, message)
		require.Equal(t, tt.verification, ToVerificationPhase(phase))
	}

	second, err := r.Start(ctx, st, testFreight, "second")
	require.NoError(t, err)
	require.NotEqual(t, first, second)
	setRunStatus(t, st.Namespace, second, PhaseFailed, `metric "up" assessed Failed due to failed (1) > failureLimit (0)`)
	phase, message, err := r.Phase(ctx, st.Namespace, second)
	require.NoError(t, err)
	require.Equal(t, PhaseFailed, phase)
	require.Equal(t, `metric "up" assessed Failed due to failed (1) > failureLimit (0)`, message)
	require.Equal(t, kargoapi.VerificationPhaseFailed, ToVerificationPhase(phase))

	phase, _, err = r.Phase(ctx, st.Namespace, first)
	require.NoError(t, err)
	require.Equal(t, PhaseSuccessful, phase, "the second run's status leaked into the first")

	_, _, err = r.Phase(ctx, st.Namespace, "never-started")
	require.True(t, apierrors.IsNotFound(err), "not a NotFound error: %v", err)
}

// The test CRD must keep status apart as the real one does: a controller
// that wrote status with a plain update would pass here only by accident
// otherwise.
func TestAPIServerRunStatusIsASubresource(t *testing.T) {
	ctx := context.Background()
	st := newStage(t, "smoke")
	createTemplate(t, st.Namespace, "smoke", map[string]any{"metrics": list(metric("up"))})
	name, err := (&Runner{Client: env.Admin}).Start(ctx, st, testFreight, "v1")
	require.NoError(t, err)

	run := getRunIn(t, st.Namespace, name)
	run.Object["status"] = map[string]any{"phase": PhaseSuccessful}
	require.NoError(t, env.Admin.Update(ctx, run))
	_, found, err := unstructured.NestedString(getRunIn(t, st.Namespace, name).Object, "status", "phase")
	require.NoError(t, err)
	require.False(t, found, "an update of the run set its status")
}

func TestAPIServerAbortSetsTerminate(t *testing.T) {
	ctx := context.Background()
	st := newStage(t, "smoke")
	createTemplate(t, st.Namespace, "smoke", map[string]any{"metrics": list(metric("up"))})
	r := &Runner{Client: env.Admin}
	name, err := r.Start(ctx, st, testFreight, "v1")
	require.NoError(t, err)

	require.NoError(t, r.Abort(ctx, st.Namespace, name))
	run := getRunIn(t, st.Namespace, name)
	terminate, found, err := unstructured.NestedBool(run.Object, "spec", "terminate")
	require.NoError(t, err)
	require.True(t, found && terminate, "spec.terminate not set: %v", run.Object["spec"])
	require.Equal(t, list(metric("up")), run.Object["spec"].(map[string]any)["metrics"], "the patch changed the metrics")

	require.True(t, apierrors.IsNotFound(r.Abort(ctx, st.Namespace, "never-started")))
}

func TestAPIServerStartRefusesBadTemplates(t *testing.T) {
	tests := []struct {
		name      string
		templates map[string]map[string]any
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
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := newStage(t, tt.refs...)
			for name, spec := range tt.templates {
				createTemplate(t, st.Namespace, name, spec)
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
