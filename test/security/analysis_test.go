package security

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/verification/analysis"
)

// An AnalysisTemplate's web metric makes Argo Rollouts' controller (here the
// real one, with the ClusterRole Argo Rollouts ships) fetch a URL, sending
// what the template's arguments read, Secrets of the run's namespace
// included. Kargo creates the AnalysisRun with its own rights, so a Stage
// that names templates is a way to make Argo Rollouts act. These attacks
// check that it takes the right to promote into the Stage, as any change of
// its spec does, and that a Stage reaches only templates of its own
// project: neither another project's AnalysisTemplate nor a
// ClusterAnalysisTemplate, named directly or included by a template.

// analysisListener is a web metric's target that records every request
// Argo Rollouts makes to it.
type analysisListener struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func analysisListen(t *testing.T) *analysisListener {
	t.Helper()
	l := &analysisListener{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.seen = append(l.seen, r.URL.RequestURI())
		l.mu.Unlock()
		fmt.Fprint(w, `{"ok": true}`)
	}))
	t.Cleanup(l.Close)
	return l
}

func (l *analysisListener) requireUntouched(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Empty(t, l.seen, "Argo Rollouts measured the template")
}

// analysisTemplate makes an AnalysisTemplate (kind "AnalysisTemplate" in
// namespace ns, or "ClusterAnalysisTemplate" when ns is empty) whose web
// metric calls url; nested, when set, is its spec.templates.
func analysisTemplate(t *testing.T, ns, name, url string, nested ...map[string]any) {
	t.Helper()
	spec := map[string]any{"metrics": []any{map[string]any{
		"name": name, "successCondition": "result.ok == true",
		"provider": map[string]any{"web": map[string]any{"url": url}},
	}}}
	if len(nested) > 0 {
		refs := make([]any, len(nested))
		for i, n := range nested {
			refs[i] = n
		}
		spec["templates"] = refs
	}
	tmpl := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	tmpl.SetGroupVersionKind(analysis.TemplateGVK)
	tmpl.SetName(name)
	if ns == "" {
		tmpl.SetKind("ClusterAnalysisTemplate")
		t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), tmpl) })
	} else {
		tmpl.SetNamespace(ns)
	}
	require.NoError(t, env.Admin.Create(context.Background(), tmpl))
}

// analysisRuns lists the AnalysisRuns of ns.
func analysisRuns(t *testing.T, ns string) []unstructured.Unstructured {
	t.Helper()
	runs := &unstructured.UnstructuredList{}
	runs.SetGroupVersionKind(analysis.RunGVK.GroupVersion().WithKind("AnalysisRunList"))
	require.NoError(t, env.Admin.List(context.Background(), runs, client.InNamespace(ns)))
	return runs.Items
}

// analysisVerifyWith has c create Stage stage verifying with templates,
// promotes a Freight into it, and returns the verification once it ended.
func analysisVerifyWith(t *testing.T, c client.Client, ns, stage string, templates ...string) *kargoapi.VerificationInfo {
	t.Helper()
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: stage, Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
			Verification:  &kargoapi.Verification{},
		},
	}
	for _, name := range templates {
		st.Spec.Verification.AnalysisTemplates = append(st.Spec.Verification.AnalysisTemplates, kargoapi.AnalysisTemplateReference{Name: name})
	}
	require.NoError(t, c.Create(context.Background(), st))
	f := egressFreight(t, ns, stage)
	p := egressPromote(t, ns, stage, f)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	var v *kargoapi.VerificationInfo
	kubetest.Eventually(t, time.Minute, "verification of "+stage+" ends", func() (bool, string) {
		v = admissionStage(t, ns, stage).Status.Verification
		return v != nil && v.Phase.IsTerminal(), fmt.Sprintf("%+v", v)
	})
	got := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(f), got))
	require.NotContains(t, got.Status.VerifiedIn, stage, "a refused template verified the Freight")
	return v
}

func TestAnalysisAttacks(t *testing.T) {
	ctx := context.Background()

	t.Run("carol, who may edit Stages but not promote, adds an AnalysisTemplate to a Stage", func(t *testing.T) {
		ns := admissionProject(t, "analysis-edit")
		l := analysisListen(t)
		analysisTemplate(t, ns, "probe", l.URL)
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "uat", Namespace: ns},
			Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}},
		}))
		carol := env.As(t, kubetest.Carol)
		err := admissionEdit(t, carol, ns, "uat", func(st *kargoapi.Stage) {
			st.Spec.Verification = &kargoapi.Verification{AnalysisTemplates: []kargoapi.AnalysisTemplateReference{{Name: "probe"}}}
		})
		admissionRefused(t, err, http.StatusForbidden, `user "carol" may not promote to Stage "uat"`)
		require.Nil(t, admissionStage(t, ns, "uat").Spec.Verification)

		err = carol.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "carols", Namespace: ns},
			Spec: kargoapi.StageSpec{
				Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
				Verification:  &kargoapi.Verification{AnalysisTemplates: []kargoapi.AnalysisTemplateReference{{Name: "probe"}}},
			},
		})
		admissionRefused(t, err, http.StatusForbidden, `user "carol" may not promote to Stage "carols"`)
		require.Error(t, env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "carols"}, &kargoapi.Stage{}), "the Stage was created")

		// bob may promote into uat only: prod is not his to verify.
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: ns},
			Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}},
		}))
		err = admissionEdit(t, env.As(t, kubetest.Bob), ns, "prod", func(st *kargoapi.Stage) {
			st.Spec.Verification = &kargoapi.Verification{AnalysisTemplates: []kargoapi.AnalysisTemplateReference{{Name: "probe"}}}
		})
		admissionRefused(t, err, http.StatusForbidden, `user "bob" may not promote to Stage "prod"`)
		require.Nil(t, admissionStage(t, ns, "prod").Spec.Verification)
		// ...while uat is, so the same change there goes through.
		require.NoError(t, admissionEdit(t, env.As(t, kubetest.Bob), ns, "uat", func(st *kargoapi.Stage) {
			st.Spec.Verification = &kargoapi.Verification{AnalysisTemplates: []kargoapi.AnalysisTemplateReference{{Name: "probe"}}}
		}))

		require.Empty(t, analysisRuns(t, ns))
		l.requireUntouched(t)
	})

	t.Run("adam, admin of one project, names another project's AnalysisTemplate", func(t *testing.T) {
		mine, theirs := admissionProject(t, "analysis-mine"), env.NewProject(t, "analysis-theirs")
		l := analysisListen(t)
		analysisTemplate(t, theirs, "probe", l.URL)

		v := analysisVerifyWith(t, env.As(t, kubetest.Adam), mine, "uat", "probe")
		require.Equal(t, kargoapi.VerificationPhaseError, v.Phase)
		require.Contains(t, v.Message, fmt.Sprintf(`AnalysisTemplate "probe" not found in namespace %q`, mine))
		require.Nil(t, v.AnalysisRun)
		require.Empty(t, analysisRuns(t, mine))
		require.Empty(t, analysisRuns(t, theirs))
		l.requireUntouched(t)
	})

	t.Run("adam names a ClusterAnalysisTemplate, directly and through a template of his own", func(t *testing.T) {
		ns := admissionProject(t, "analysis-cluster")
		l := analysisListen(t)
		cluster := "cluster-probe-" + ns
		analysisTemplate(t, "", cluster, l.URL)
		analysisTemplate(t, ns, "composed", l.URL+"/own", map[string]any{"templateName": cluster, "clusterScope": true})
		adam := env.As(t, kubetest.Adam)

		v := analysisVerifyWith(t, adam, ns, "direct", cluster)
		require.Equal(t, kargoapi.VerificationPhaseError, v.Phase)
		require.Contains(t, v.Message, fmt.Sprintf(`AnalysisTemplate %q not found in namespace %q`, cluster, ns))

		v = analysisVerifyWith(t, adam, ns, "nested", "composed")
		require.Equal(t, kargoapi.VerificationPhaseError, v.Phase)
		require.Contains(t, v.Message, `AnalysisTemplate "composed" includes other templates (spec.templates)`)

		require.Empty(t, analysisRuns(t, ns))
		l.requireUntouched(t)
	})
}

// Argo Rollouts' AnalysisRun has no status subresource, and Argo Rollouts'
// install gives the cluster's edit and admin roles the right to update
// AnalysisRuns: without kargo's AnalysisRun webhook, whoever holds it could
// write "Successful" into the run of a failing verification and have the
// Freight verified. carol gets exactly that right here.
func TestAnalysisRunResultCannotBeForged(t *testing.T) {
	ctx := context.Background()
	ns := admissionProject(t, "analysis-forge")
	l := analysisListen(t)
	// A metric that fails (the listener answers {"ok": true}).
	tmpl := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"metrics": []any{map[string]any{
		"name": "failing", "successCondition": "result.ok == false",
		"provider": map[string]any{"web": map[string]any{"url": l.URL}},
	}}}}}
	tmpl.SetGroupVersionKind(analysis.TemplateGVK)
	tmpl.SetName("failing")
	tmpl.SetNamespace(ns)
	require.NoError(t, env.Admin.Create(ctx, tmpl))
	require.NoError(t, env.Admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "analysisrun-editor", Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"argoproj.io"}, Resources: []string{"analysisruns"}, Verbs: []string{"get", "list", "create", "update", "patch"}}},
	}))
	env.Bind(t, ns, kubetest.Carol, "Role", "analysisrun-editor")
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "uat", Namespace: ns},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"},
			Verification:  &kargoapi.Verification{AnalysisTemplates: []kargoapi.AnalysisTemplateReference{{Name: "failing"}}},
		},
	}
	require.NoError(t, env.Admin.Create(ctx, st))
	f := egressFreight(t, ns, "uat")
	p := egressPromote(t, ns, "uat", f)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	var run unstructured.Unstructured
	kubetest.Eventually(t, time.Minute, "kargo's AnalysisRun", func() (bool, string) {
		runs := analysisRuns(t, ns)
		if len(runs) > 0 {
			run = runs[0]
		}
		return len(runs) > 0, fmt.Sprintf("%d runs", len(runs))
	})
	carol := env.As(t, kubetest.Carol)

	t.Run("carol writes Successful into the running verification", func(t *testing.T) {
		forged := run.DeepCopy()
		err := carol.Patch(ctx, forged, client.RawPatch("application/merge-patch+json", []byte(`{"status":{"phase":"Successful","message":"all good"}}`)))
		admissionRefused(t, err, http.StatusForbidden, "is the verification of Stage uat", "only kargo's controller and Argo Rollouts")
	})
	t.Run("carol takes kargo's label off the run, to write it unguarded afterwards", func(t *testing.T) {
		forged := run.DeepCopy()
		err := carol.Patch(ctx, forged, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"kargo.akuity.io/stage":null}}}`)))
		admissionRefused(t, err, http.StatusForbidden, "is the verification of Stage uat")
	})
	t.Run("carol creates a Successful run owned by the Stage", func(t *testing.T) {
		fake := &unstructured.Unstructured{Object: map[string]any{
			"spec":   map[string]any{"metrics": []any{map[string]any{"name": "x", "provider": map[string]any{"web": map[string]any{"url": l.URL}}}}},
			"status": map[string]any{"phase": "Successful"},
		}}
		fake.SetGroupVersionKind(analysis.RunGVK)
		fake.SetNamespace(ns)
		fake.SetName("forged")
		fake.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: kargoapi.GroupVersion.String(), Kind: "Stage", Name: "uat", UID: admissionStage(t, ns, "uat").UID}})
		err := carol.Create(ctx, fake)
		admissionRefused(t, err, http.StatusForbidden, "is the verification of Stage uat")
		for _, r := range analysisRuns(t, ns) {
			require.NotEqual(t, "forged", r.GetName(), "the forged run was created")
		}
	})

	// The verification ends as Argo Rollouts measured it.
	var v *kargoapi.VerificationInfo
	kubetest.Eventually(t, time.Minute, "the verification ends", func() (bool, string) {
		v = admissionStage(t, ns, "uat").Status.Verification
		return v != nil && v.Phase.IsTerminal(), fmt.Sprintf("%+v", v)
	})
	require.Equal(t, kargoapi.VerificationPhaseFailed, v.Phase, v.Message)
	got := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKeyFromObject(f), got))
	require.NotContains(t, got.Status.VerifiedIn, "uat", "a forged result verified the Freight")
}
