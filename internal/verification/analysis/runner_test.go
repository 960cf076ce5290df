package analysis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	kargoscheme "github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/sourceerr"
)

const testNamespace = "proj"

// newFakeClient returns a fake client holding objs that serves
// AnalysisTemplates and AnalysisRuns as unstructured objects.
func newFakeClient(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) client.Client {
	t.Helper()
	s, err := kargoscheme.New()
	require.NoError(t, err)
	for _, gvk := range []schema.GroupVersionKind{TemplateGVK, RunGVK} {
		s.AddKnownTypeWithName(gvk, &unstructured.Unstructured{})
		s.AddKnownTypeWithName(gvk.GroupVersion().WithKind(gvk.Kind+"List"), &unstructured.UnstructuredList{})
	}
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...)
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	return b.Build()
}

// stage returns a Stage in testNamespace that lists templates.
func stage(name string, templates ...string) *kargoapi.Stage {
	st := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name, UID: types.UID("uid-" + name)}}
	st.Spec.Verification = &kargoapi.Verification{}
	for _, tpl := range templates {
		st.Spec.Verification.AnalysisTemplates = append(st.Spec.Verification.AnalysisTemplates, kargoapi.AnalysisTemplateReference{Name: tpl})
	}
	return st
}

func namespaced(u *unstructured.Unstructured) *unstructured.Unstructured {
	u.SetNamespace(testNamespace)
	return u
}

var testFreight = &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "0123456789abcdef0123456789abcdef01234567"}}

func getRun(t *testing.T, c client.Client, name string) *unstructured.Unstructured {
	t.Helper()
	run := &unstructured.Unstructured{}
	run.SetGroupVersionKind(RunGVK)
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: testNamespace, Name: name}, run))
	return run
}

func TestStartCreatesOneRunFromAllTemplates(t *testing.T) {
	c := newFakeClient(t, nil,
		namespaced(template("latency", map[string]any{
			"metrics": list(metric("p99")),
			"args":    list(map[string]any{"name": "service", "value": "web"}),
			"dryRun":  list(map[string]any{"metricName": "p99"}),
		})),
		namespaced(template("errors", map[string]any{
			"metrics":              list(metric("error-rate")),
			"args":                 list(map[string]any{"name": "service"}),
			"measurementRetention": list(map[string]any{"metricName": "error-rate", "limit": int64(10)}),
		})),
	)
	r := &Runner{Client: c}
	st := stage("test", "latency", "errors")

	name, err := r.Start(context.Background(), st, testFreight, "v1")
	require.NoError(t, err)
	require.Equal(t, "test.v1", name)

	run := getRun(t, c, name)
	require.Equal(t, map[string]string{
		kargoapi.StageLabelKey:          "test",
		kargoapi.FreightLabelKey:        testFreight.Name,
		kargoapi.VerificationIDLabelKey: "v1",
	}, run.GetLabels())
	require.Len(t, run.GetOwnerReferences(), 1)
	owner := run.GetOwnerReferences()[0]
	require.Equal(t, "kargo.akuity.io/v1alpha1", owner.APIVersion)
	require.Equal(t, "Stage", owner.Kind)
	require.Equal(t, "test", owner.Name)
	require.Equal(t, st.UID, owner.UID)
	require.NotNil(t, owner.Controller)
	require.True(t, *owner.Controller)
	require.Equal(t, map[string]any{
		"metrics":              list(metric("p99"), metric("error-rate")),
		"args":                 list(map[string]any{"name": "service", "value": "web"}),
		"dryRun":               list(map[string]any{"metricName": "p99"}),
		"measurementRetention": list(map[string]any{"metricName": "error-rate", "limit": int64(10)}),
	}, run.Object["spec"])
}

func TestStartReturnsTheRunMadeBeforeARestart(t *testing.T) {
	c := newFakeClient(t, nil, namespaced(template("a", map[string]any{"metrics": list(metric("m1"))})))
	r := &Runner{Client: c}
	st := stage("test", "a")
	name, err := r.Start(context.Background(), st, testFreight, "v1")
	require.NoError(t, err)
	created := getRun(t, c, name)

	// The template is gone and the Stage now lists another that does not
	// exist: only a new verification would read them.
	require.NoError(t, c.Delete(context.Background(), namespaced(template("a", nil))))
	st.Spec.Verification.AnalysisTemplates = append(st.Spec.Verification.AnalysisTemplates, kargoapi.AnalysisTemplateReference{Name: "missing"})
	again, err := r.Start(context.Background(), st, testFreight, "v1")
	require.NoError(t, err)
	require.Equal(t, name, again)
	require.Equal(t, created.GetResourceVersion(), getRun(t, c, name).GetResourceVersion(), "the run was rewritten")

	_, err = r.Start(context.Background(), st, testFreight, "v2")
	require.ErrorIs(t, err, sourceerr.ErrInvalid, "a new verification reads the templates again")
}

func TestStartReadsARepeatedTemplateOnce(t *testing.T) {
	c := newFakeClient(t, nil, namespaced(template("a", map[string]any{"metrics": list(metric("m1"))})))
	name, err := (&Runner{Client: c}).Start(context.Background(), stage("test", "a", "a"), testFreight, "v1")
	require.NoError(t, err, "a template listed twice is not a metric defined twice")
	require.Equal(t, list(metric("m1")), getRun(t, c, name).Object["spec"].(map[string]any)["metrics"])
}

func TestStartRefusesARunOfAnotherStage(t *testing.T) {
	c := newFakeClient(t, nil, namespaced(template("a", map[string]any{"metrics": list(metric("m1"))})))
	r := &Runner{Client: c}
	old := stage("test", "a")
	_, err := r.Start(context.Background(), old, testFreight, "v1")
	require.NoError(t, err)

	// The Stage was deleted and made again under the same name before the
	// old run was garbage-collected.
	recreated := stage("test", "a")
	recreated.UID = "uid-recreated"
	_, err = r.Start(context.Background(), recreated, testFreight, "v1")
	require.ErrorContains(t, err, "does not belong to Stage test")
	require.NotErrorIs(t, err, sourceerr.ErrInvalid, "garbage collection fixes it; the spec need not change")
}

func TestStartTakesTheRunOfAConcurrentStart(t *testing.T) {
	st := stage("test", "a")
	var c client.Client
	c = newFakeClient(t, &interceptor.Funcs{
		Create: func(ctx context.Context, inner client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			// Another Start creates the same run first.
			other := obj.DeepCopyObject().(client.Object)
			require.NoError(t, inner.Create(ctx, other))
			return inner.Create(ctx, obj, opts...)
		},
	}, namespaced(template("a", map[string]any{"metrics": list(metric("m1"))})))
	name, err := (&Runner{Client: c}).Start(context.Background(), st, testFreight, "v1")
	require.NoError(t, err)
	require.Equal(t, "test.v1", name)
	getRun(t, c, name)
}

func TestStartErrors(t *testing.T) {
	boom := errors.New("connection refused")
	tests := []struct {
		name    string
		stage   *kargoapi.Stage
		freight *kargoapi.Freight
		noID    bool
		funcs   *interceptor.Funcs
		invalid bool
		wantErr []string
	}{{
		name:    "missing template",
		stage:   stage("test", "a", "absent"),
		invalid: true,
		wantErr: []string{`AnalysisTemplate "absent" not found in namespace "proj"`},
	}, {
		name:    "duplicate metric",
		stage:   stage("test", "a", "also-m1"),
		invalid: true,
		wantErr: []string{`metric "m1"`, `"a"`, `"also-m1"`},
	}, {
		name:    "no templates",
		stage:   stage("test"),
		invalid: true,
		wantErr: []string{"Stage proj/test lists no AnalysisTemplates"},
	}, {
		name: "no verification",
		stage: func() *kargoapi.Stage {
			st := stage("test")
			st.Spec.Verification = nil
			return st
		}(),
		invalid: true,
		wantErr: []string{"lists no AnalysisTemplates"},
	}, {
		name:    "no Freight",
		stage:   stage("test", "a"),
		freight: &kargoapi.Freight{},
		wantErr: []string{"no Freight to verify"},
	}, {
		name:    "no verification ID",
		stage:   stage("test", "a"),
		noID:    true,
		wantErr: []string{"the verification has no ID"},
	}, {
		name:  "API server unreachable",
		stage: stage("test", "a"),
		funcs: &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if obj.GetObjectKind().GroupVersionKind() == TemplateGVK {
				return boom
			}
			return c.Get(ctx, key, obj, opts...)
		}},
		wantErr: []string{"get AnalysisTemplate proj/a", "connection refused"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClient(t, tt.funcs,
				namespaced(template("a", map[string]any{"metrics": list(metric("m1"))})),
				namespaced(template("also-m1", map[string]any{"metrics": list(metric("m1"))})),
			)
			freight, id := testFreight, "v1"
			if tt.freight != nil {
				freight = tt.freight
			}
			if tt.noID {
				id = ""
			}
			_, err := (&Runner{Client: c}).Start(context.Background(), tt.stage, freight, id)
			require.Error(t, err)
			require.Equal(t, tt.invalid, errors.Is(err, sourceerr.ErrInvalid), "matches ErrInvalid: %v", err)
			for _, part := range tt.wantErr {
				require.ErrorContains(t, err, part)
			}
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(RunGVK.GroupVersion().WithKind("AnalysisRunList"))
			require.NoError(t, c.List(context.Background(), list))
			require.Empty(t, list.Items, "no run is made")
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name   string
		spec   map[string]any
		status map[string]any
		want   RunStatus
	}{
		{name: "no status yet", want: RunStatus{Phase: "Pending"}},
		{name: "empty phase", status: map[string]any{"phase": ""}, want: RunStatus{Phase: "Pending"}},
		{name: "running", status: map[string]any{"phase": "Running"}, want: RunStatus{Phase: "Running"}},
		{name: "successful", status: map[string]any{"phase": "Successful"}, want: RunStatus{Phase: "Successful"}},
		{name: "failed with message", status: map[string]any{"phase": "Failed", "message": "metric \"p99\" assessed Failed"}, want: RunStatus{Phase: "Failed", Message: "metric \"p99\" assessed Failed"}},
		{name: "terminated", spec: map[string]any{"terminate": true}, status: map[string]any{"phase": "Successful", "message": "Run Terminated"}, want: RunStatus{Phase: "Successful", Message: "Run Terminated", Terminated: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			if spec == nil {
				spec = map[string]any{}
			}
			run := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
			if tt.status != nil {
				run.Object["status"] = tt.status
			}
			run.SetGroupVersionKind(RunGVK)
			run.SetNamespace(testNamespace)
			run.SetName("run")
			got, err := (&Runner{Client: newFakeClient(t, nil, run)}).Status(context.Background(), testNamespace, "run")
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("missing run", func(t *testing.T) {
		_, err := (&Runner{Client: newFakeClient(t, nil)}).Status(context.Background(), testNamespace, "gone")
		require.Error(t, err)
		require.True(t, apierrors.IsNotFound(err), "not a NotFound error: %v", err)
		require.ErrorContains(t, err, "proj/gone")
	})
}

func TestAbort(t *testing.T) {
	c := newFakeClient(t, nil, namespaced(template("a", map[string]any{"metrics": list(metric("m1"))})))
	r := &Runner{Client: c}
	name, err := r.Start(context.Background(), stage("test", "a"), testFreight, "v1")
	require.NoError(t, err)

	require.NoError(t, r.Abort(context.Background(), testNamespace, name))
	run := getRun(t, c, name)
	terminate, found, err := unstructured.NestedBool(run.Object, "spec", "terminate")
	require.NoError(t, err)
	require.True(t, found && terminate, "spec.terminate not set: %v", run.Object["spec"])
	require.Len(t, run.Object["spec"].(map[string]any)["metrics"], 1, "the patch replaced the spec")

	err = r.Abort(context.Background(), testNamespace, "gone")
	require.True(t, apierrors.IsNotFound(err), "not a NotFound error: %v", err)
}

func TestToVerificationPhase(t *testing.T) {
	for _, tt := range []struct {
		run  RunStatus
		want kargoapi.VerificationPhase
	}{
		{RunStatus{Phase: ""}, kargoapi.VerificationPhaseRunning},
		{RunStatus{Phase: "Pending"}, kargoapi.VerificationPhaseRunning},
		{RunStatus{Phase: "Running"}, kargoapi.VerificationPhaseRunning},
		{RunStatus{Phase: "Successful"}, kargoapi.VerificationPhaseSuccessful},
		{RunStatus{Phase: "Failed"}, kargoapi.VerificationPhaseFailed},
		{RunStatus{Phase: "Error"}, kargoapi.VerificationPhaseError},
		{RunStatus{Phase: "Inconclusive"}, kargoapi.VerificationPhaseFailed},
		{RunStatus{Phase: "Exploded"}, kargoapi.VerificationPhaseError},
		// Argo Rollouts calls a terminated run Successful unless a metric
		// had failed already.
		{RunStatus{Phase: "Successful", Terminated: true}, kargoapi.VerificationPhaseAborted},
		{RunStatus{Phase: "Running", Terminated: true}, kargoapi.VerificationPhaseRunning},
		{RunStatus{Phase: "Failed", Terminated: true}, kargoapi.VerificationPhaseFailed},
	} {
		t.Run(fmt.Sprintf("phase %q terminated %v", tt.run.Phase, tt.run.Terminated), func(t *testing.T) {
			require.Equal(t, tt.want, ToVerificationPhase(tt.run))
		})
	}
}

func TestRunName(t *testing.T) {
	long := strings.Repeat("a", 240) + "-" + strings.Repeat("b", 12)
	tests := []struct {
		name, stage, id string
		want            string
		wantPrefix      string
	}{
		{name: "plain", stage: "test", id: "v1", want: "test.v1"},
		{name: "dotted stage", stage: "eu.prod", id: "01hzx", want: "eu.prod.01hzx"},
		{name: "id with characters a name cannot hold", stage: "test", id: "Attempt_1", wantPrefix: "test."},
		{name: "too long", stage: long, id: "v1", wantPrefix: strings.Repeat("a", 236) + "."},
		{name: "cut at a dash", stage: strings.Repeat("a", 235) + "-" + strings.Repeat("b", 20), id: "v1", wantPrefix: strings.Repeat("a", 235) + "."},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runName(tt.stage, tt.id)
			require.Empty(t, validation.IsDNS1123Subdomain(got), "invalid name %q", got)
			require.Equal(t, got, runName(tt.stage, tt.id), "not deterministic")
			if tt.want != "" {
				require.Equal(t, tt.want, got)
			} else {
				require.True(t, strings.HasPrefix(got, tt.wantPrefix), "%q does not start with %q", got, tt.wantPrefix)
				require.Len(t, got, len(tt.wantPrefix)+hashLength)
			}
			require.NotContains(t, seen, got, "same name as %s", seen[got])
			seen[got] = tt.name
		})
	}
	require.NotEqual(t, runName(long, "v1"), runName(long, "v2"), "two verifications of a long-named Stage share a run")
}

func TestLabelValue(t *testing.T) {
	tests := []struct {
		name, in, want, wantPrefix string
	}{
		{name: "valid", in: "test", want: "test"},
		{name: "sha1 freight name", in: testFreight.Name, want: testFreight.Name},
		{name: "too long", in: strings.Repeat("s", 70), wantPrefix: strings.Repeat("s", 46) + "-"},
		{name: "characters a label cannot hold", in: "a/b c", wantPrefix: "a-b-c-"},
		{name: "nothing usable", in: "///", wantPrefix: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := labelValue(tt.in)
			require.Empty(t, validation.IsValidLabelValue(got), "invalid label value %q", got)
			if tt.want != "" {
				require.Equal(t, tt.want, got)
				return
			}
			require.True(t, strings.HasPrefix(got, tt.wantPrefix), "%q does not start with %q", got, tt.wantPrefix)
			require.Len(t, got, len(tt.wantPrefix)+hashLength)
		})
	}
	require.NotEqual(t, labelValue(strings.Repeat("s", 70)), labelValue(strings.Repeat("s", 71)))
}
