package promotion

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// writesStepsStage creates Stage "test" in a new project whose
// promotionTemplate runs two steps that act only in memory, the second
// skipped by its if (as the scale harness's Stages do, with a step that
// needs nothing outside), and returns the project.
func writesStepsStage(t testing.TB, prefix string) string {
	t.Helper()
	ns := env.NewProject(t, prefix)
	st := objects.Stage(ns, "test", objects.SubscribesTo(objects.DefaultWarehouse))
	st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
		{Uses: "compose-output", As: "out", Config: &kargoapi.StepConfig{Raw: []byte(`{"promoted":true}`)}},
		{Uses: "compose-output", As: "never", If: "${{ false }}", Config: &kargoapi.StepConfig{Raw: []byte(`{"never":true}`)}},
	}}}
	require.NoError(t, env.Admin.Create(context.Background(), st))
	return ns
}

// writesMechanismsStage creates Stage "test" in a new project with the
// seed's promotionMechanisms (one gitRepoUpdate setting a kustomize image,
// from main into a Stage branch) against a Git server of its own, and
// returns the project.
func writesMechanismsStage(t testing.TB, prefix string) string {
	t.Helper()
	ns := env.NewProject(t, prefix)
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("gitops")
	gs.Commit(t, "gitops", "main", map[string]string{
		"base/deployment.yaml":           "kind: Deployment\n",
		"stages/test/kustomization.yaml": kustomization,
	}, "initial layout")
	require.NoError(t, env.Admin.Create(context.Background(), &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns},
		Spec:       stageSpec(gs.RepoURL("gitops"), "nginx", "test", kargoapi.Subscriptions{Warehouse: objects.DefaultWarehouse}, false),
	}))
	return ns
}

// promoteCounting promotes n new Freight, one after another, into Stage
// "test" of ns and returns the controllers' writes to ns from the first
// Promotion's creation until the last one's outcome is recorded everywhere
// it goes (the Promotion, the Stage, the Freight) and the Stage controller
// has brought the Stage's status up to date. Each Freight is created, and
// made available to the Stage, before the counting starts: what a new
// Freight costs is not a Promotion's. A Promotion's writes that come after
// the next one was created are counted all the same.
func promoteCounting(t testing.TB, ns string, n int) controllers.WriteCount {
	t.Helper()
	ctx := context.Background()
	var fs []*kargoapi.Freight
	for i := range n {
		f := objects.Freight(ns, objects.Image("nginx", fmt.Sprintf("9.1.%d", i)))
		require.NoError(t, env.Admin.Create(ctx, f))
		fs = append(fs, f)
	}
	eventually(t, time.Minute, "the Freight available to the Stage", func() (bool, string) {
		st := &kargoapi.Stage{}
		if err := env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "test"}, st); err != nil {
			return false, err.Error()
		}
		return len(st.Status.AvailableFreight) >= n, fmt.Sprintf("%d available", len(st.Status.AvailableFreight))
	})
	before := controllers.Writes(ns)
	for i, f := range fs {
		p := objects.Promotion(ns, fmt.Sprintf("p-%d", i), "test", f.Name)
		require.NoError(t, env.Admin.Create(ctx, p))
		eventually(t, time.Minute, "Promotion "+p.Name+" recorded everywhere", func() (bool, string) {
			return promotionSettled(ctx, ns, p.Name, f.Name)
		})
	}
	return controllers.Writes(ns).Sub(before)
}

// promotionSettled says whether Promotion name of Freight fname succeeded
// and its outcome is where users read it: the Stage's current Freight and
// last Promotion, the Freight verified in the Stage, and the Stage's Ready
// message, which the Stage controller writes, naming the Freight.
func promotionSettled(ctx context.Context, ns, name, fname string) (bool, string) {
	p := &kargoapi.Promotion{}
	if err := env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
		return false, err.Error()
	}
	if p.Status.Phase.IsTerminal() && p.Status.Phase != kargoapi.PromotionPhaseSucceeded {
		return false, fmt.Sprintf("Promotion %s: %s: %s", name, p.Status.Phase, p.Status.Message)
	}
	if p.Status.Phase != kargoapi.PromotionPhaseSucceeded {
		return false, "Promotion " + string(p.Status.Phase)
	}
	st := &kargoapi.Stage{}
	if err := env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "test"}, st); err != nil {
		return false, err.Error()
	}
	switch {
	case st.Status.CurrentPromotion != nil:
		return false, "Stage still claimed by " + st.Status.CurrentPromotion.Name
	case st.Status.LastPromotion == nil || st.Status.LastPromotion.Name != name:
		return false, "Stage's last Promotion is not " + name
	case st.Status.CurrentFreight == nil || st.Status.CurrentFreight.ID != fname:
		return false, "Stage's current Freight is not " + fname
	}
	ready := ""
	for _, c := range st.Status.Conditions {
		if c.Type == kargoapi.ConditionReady {
			ready = c.Message
		}
	}
	if !strings.Contains(ready, fname) {
		return false, "Stage Ready: " + ready
	}
	f := &kargoapi.Freight{}
	if err := env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: fname}, f); err != nil {
		return false, err.Error()
	}
	if _, ok := f.Status.VerifiedIn["test"]; !ok {
		return false, "Freight not verified in the Stage"
	}
	return true, ""
}

// reportWrites reports writes per Promotion, in all and by kind.
func reportWrites(b *testing.B, w controllers.WriteCount, n int) {
	b.ReportMetric(float64(w.Total())/float64(n), "writes/promotion")
	for k, v := range w {
		unit := strings.ToLower(k.Verb) + "-" + strings.ReplaceAll(k.Resource, "/", "-") + "/promotion"
		b.ReportMetric(float64(v)/float64(n), unit)
	}
	b.Logf("writes of %d Promotions: %s", n, w)
}

// BenchmarkPromotionWrites reports the API writes the controllers make per
// Promotion, from its creation until its outcome is recorded and the Stage
// controller's passes after it are done, in all and by verb and resource:
// for a promotionTemplate of two in-memory steps (the second skipped), and
// for the seed's promotionMechanisms with a git update pushed to the
// in-process Git server. b.N Promotions run one after another; what is
// measured is their number of writes, not their time (-benchtime=10x).
func BenchmarkPromotionWrites(b *testing.B) {
	for _, c := range []struct {
		name  string
		stage func(testing.TB, string) string
	}{
		{"steps", writesStepsStage},
		{"mechanisms", writesMechanismsStage},
	} {
		b.Run(c.name, func(b *testing.B) {
			ns := c.stage(b, "bench-writes")
			reportWrites(b, promoteCounting(b, ns, b.N), b.N)
		})
	}
}

// A Promotion costs the API server only the writes that must happen, each
// once: the Stage's claim (the optimistic lock that keeps two Promotions of
// a Stage from running at once), the record of each step that acted
// outside the work directory (before the next step starts, so that a
// restarted controller never runs it again), the outcome in the Stage
// (with the Ready message the Stage controller would otherwise write
// after it), the Freight verified in the Stage (no verification is
// configured), the Promotion's end (with Running and the records of the
// steps that changed only the work directory), and its event. Counted on
// the real API server, over three Promotions one after another.
func TestPromotionWritesStayFew(t *testing.T) {
	const n = 3
	w := func(verb, resource string) controllers.Write {
		return controllers.Write{Verb: verb, Resource: resource}
	}
	for _, c := range []struct {
		name  string
		stage func(testing.TB, string) string
		// most is the writes per Promotion, by kind.
		most controllers.WriteCount
	}{
		{"two in-memory steps, one skipped", writesStepsStage, controllers.WriteCount{
			w("PATCH", "stages/status"):     2, // claim, outcome
			w("PATCH", "promotions/status"): 1, // end, with Running and both steps
			w("PATCH", "freights/status"):   1, // verified in the Stage
			w("POST", "events"):             1, // PromotionSucceeded
		}},
		{"promotionMechanisms with a git update", writesMechanismsStage, controllers.WriteCount{
			w("PATCH", "stages/status"):     2, // claim, outcome
			w("PATCH", "promotions/status"): 2, // the git update pushed; the end
			w("PATCH", "freights/status"):   1,
			w("POST", "events"):             1,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := promoteCounting(t, c.stage(t, "writes"), n)
			t.Logf("writes of %d Promotions: %s", n, got)
			for k, v := range got {
				require.LessOrEqual(t, v, c.most[k]*n, "%s: %d writes for %d Promotions, at most %d each expected; all: %s", k, v, n, c.most[k], got)
			}
			require.Equal(t, c.most.Total()*n, got.Total(), "every Promotion's outcome is recorded; all: %s", got)
		})
	}
}
