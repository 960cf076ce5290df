package cli

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/controller/warehouse"
)

func (h *harness) addFixtures(rts ...*resourceType) {
	fx := fixtures()
	for _, rt := range rts {
		h.srv.Add(fx[rt]...)
	}
}

func TestLogin(t *testing.T) {
	h := newHarness(t, false)
	require.NoError(t, os.Remove(h.config))
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600))

	r := h.run("login", h.srv.URL, "--token-file", tokenFile)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Logged in to "+h.srv.URL+" as alice\n", r.stdout)
	require.Equal(t, &Config{Server: h.srv.URL, Token: testToken}, readConfig(t, h.config))
	require.Equal(t, os.FileMode(0o600), fileMode(t, h.config))
	require.Equal(t, os.FileMode(0o700), fileMode(t, filepath.Dir(h.config)))

	r = h.runIn(context.Background(), testToken+"\n", "login", h.srv.URL, "--token-file", "-")
	require.Equal(t, ExitOK, r.code, r.stderr)
}

func TestLoginKeepsTheDefaultProjectOfItsServerOnly(t *testing.T) {
	h := newHarness(t, true)
	r := h.run("login", h.srv.URL, "--token", testToken)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "kargo-demo", readConfig(t, h.config).Project, "logging in again to the same server")

	require.NoError(t, saveConfig(h.config, &Config{Server: "https://old.example.com", Token: "x", Project: "old-project"}))
	r = h.run("login", h.srv.URL, "--token", testToken)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, &Config{Server: h.srv.URL, Token: testToken}, readConfig(t, h.config))
}

func TestLoginRefusesABadTokenAndKeepsTheConfig(t *testing.T) {
	h := newHarness(t, true)
	before := readConfig(t, h.config)
	r := h.run("login", h.srv.URL, "--token", "wrong")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: log in to "+h.srv.URL+": the server did not accept the token: the token is missing, expired or not valid\n", r.stderr)
	require.Equal(t, before, readConfig(t, h.config))
}

func TestLoginUsage(t *testing.T) {
	h := newHarness(t, false)
	for _, args := range [][]string{
		{"login", h.srv.URL},
		{"login", h.srv.URL, "--token", "a", "--token-file", "b"},
		{"login", "--token", "a"},
		{"login", "ftp://x", "--token", "a"},
	} {
		r := h.run(args...)
		require.Equal(t, ExitUsage, r.code, "%v: %s", args, r.stderr)
	}
}

func TestGetFreightAsTheSeedPageShowsIt(t *testing.T) {
	h := newHarness(t, false)
	h.srv.Add(fixtures()[freightType][0])
	r := h.run("get", "freight", "--project", "kargo-demo")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, ""+
		"NAME                                       ALIAS              AGE\n"+
		"f5f87aa23c9e97f43eb83dd63768ee41f5ba3766   mortal-dragonfly   35s\n", r.stdout)

	r = h.run("get", "freight", "--project", "kargo-demo", "--output", "jsonpath-as-json={.status}")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "[\n    {\n        \"approvedFor\": {\n            \"prod\": {}\n        },\n        \"verifiedIn\": {\n            \"test\": {}\n        }\n    }\n]\n", r.stdout)
}

func TestGetNamesAndAliases(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(freightType, stageType)
	for _, alias := range []string{"freight", "freights"} {
		r := h.run("get", alias, "mortal-dragonfly", freightB, "-o", "name")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "freight.kargo.akuity.io/"+freightA+"\nfreight.kargo.akuity.io/"+freightB+"\n", r.stdout)
	}
	r := h.run("get", "stage", "test", "-o", "jsonpath={.status.phase}")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Steady\n", r.stdout)

	// One missing name: the others are still printed, and the exit code
	// says something was missing.
	r = h.run("get", "stages", "test", "nope")
	require.Equal(t, ExitError, r.code)
	require.Contains(t, r.stdout, "test ")
	require.Equal(t, "Error: Stage \"nope\" not found in project \"kargo-demo\" (kargo get stages --project kargo-demo lists them)\n", r.stderr)

	r = h.run("get", "freight", "no-such-alias")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: no Freight named or aliased \"no-such-alias\" in project kargo-demo; kargo get freight --project kargo-demo lists them\n", r.stderr)
}

func TestGetEveryTypeByEveryName(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(warehouseType, stageType, freightType, promotionType, promotionPolicyType)
	for _, rt := range resourceTypes {
		for _, name := range append([]string{rt.plural()}, rt.aliases...) {
			r := h.run("get", name)
			require.Equal(t, ExitOK, r.code, "%s: %s", name, r.stderr)
			header, _, _ := strings.Cut(r.stdout, "\n")
			require.Equal(t, rt.columns, regexp.MustCompile(` {3,}`).Split(header, -1), "%s: %s", name, r.stdout)
		}
	}
	r := h.run("get", "projects", "-o", "name")
	require.Equal(t, "project.kargo.akuity.io/kargo-demo\n", r.stdout)
}

func TestGetFollowsPages(t *testing.T) {
	h := newHarness(t, true)
	h.srv.PageSize = 1
	h.addFixtures(promotionType)
	r := h.run("get", "promos", "-o", "name")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "promotion.kargo.akuity.io/test.01jd8p3k\npromotion.kargo.akuity.io/prod.01jd8p9z\n", r.stdout)
}

func TestGetNothing(t *testing.T) {
	h := newHarness(t, true)
	r := h.run("get", "stages")
	require.Equal(t, ExitOK, r.code)
	require.Empty(t, r.stdout)
	require.Equal(t, "No stages found in project kargo-demo.\n", r.stderr)

	r = h.run("get", "stages", "-o", "json")
	require.Equal(t, "{\n    \"apiVersion\": \"v1\",\n    \"items\": [],\n    \"kind\": \"List\",\n    \"metadata\": {}\n}\n", r.stdout)
}

func TestGetUsage(t *testing.T) {
	h := newHarness(t, true)
	tests := []struct {
		args []string
		err  string
	}{
		{args: []string{"get"}, err: "say what to get: projects, warehouses, stages, freight, promotions, promotionpolicies"},
		{args: []string{"get", "pods"}, err: `unknown type "pods"`},
		{args: []string{"get", "stages", "-o", "wide"}, err: `unknown output format "wide"`},
		{args: []string{"get", "projects", "--watch"}, err: "projects cannot be watched"},
		{args: []string{"get", "stages", "--no-such-flag"}, err: "unknown flag"},
	}
	for _, tt := range tests {
		r := h.run(tt.args...)
		require.Equal(t, ExitUsage, r.code, "%v", tt.args)
		require.Contains(t, r.stderr, tt.err, "%v", tt.args)
	}
}

func TestAProjectIsNeeded(t *testing.T) {
	h := newHarness(t, false)
	r := h.run("get", "stages")
	require.Equal(t, ExitUsage, r.code)
	require.Equal(t, "Error: no project given: pass --project P, or set a default with kargo config set-project P\n", r.stderr)

	r = h.run("get", "stages", "--project", "nope")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: project \"nope\" not found (kargo get projects lists them)\n", r.stderr)
}

func TestNotLoggedIn(t *testing.T) {
	h := newHarness(t, true)
	r := h.run("--config", filepath.Join(t.TempDir(), "none.yaml"), "get", "stages")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: not logged in to a kargo API server; run kargo login SERVER --token-file FILE first\n", r.stderr)
}

func TestRefusalsSayWhatToDo(t *testing.T) {
	h := newHarness(t, true)
	cfg := readConfig(t, h.config)
	cfg.Token = "expired"
	require.NoError(t, saveConfig(h.config, cfg))
	r := h.run("get", "stages")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: the token is missing, expired or not valid; run kargo login SERVER --token-file FILE to log in again\n", r.stderr)

	// A server whose message already says to log in is not repeated.
	h = newHarness(t, true)
	h.srv.Refuse("GET /api/v1/projects/kargo-demo/stages", http.StatusUnauthorized, "the bearer token was not accepted: run `kargo login` again")
	r = h.run("get", "stages")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: the bearer token was not accepted: run `kargo login` again\n", r.stderr)

	h = newHarness(t, true)
	h.addFixtures(stageType, freightType)
	const forbidden = `alice may not promote to Stage "test" in project "kargo-demo": it takes the promote verb on stages`
	h.srv.Refuse("POST /api/v1/projects/kargo-demo/stages/test/promote", http.StatusForbidden, forbidden)
	r = h.run("promote", "--freight", "mortal-dragonfly", "--stage", "test")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: "+forbidden+"\n", r.stderr)
}

func TestPromote(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(stageType, freightType)
	r := h.run("promote", "--freight-alias", "frozen-tauntaun", "--stage", "test")
	require.Equal(t, ExitOK, r.code, r.stderr)
	promos := h.srv.Objects(apiclient.Promotions, "kargo-demo")
	require.Len(t, promos, 1)
	require.Equal(t, promos[0].GetName()+"\n", r.stdout)
	require.Equal(t, kargoapi.PromotionSpec{Stage: "test", Freight: freightB}, promos[0].(*kargoapi.Promotion).Spec)

	r = h.run("promote", "--freight-alias", "nope", "--stage", "test")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: no Freight with alias nope in project kargo-demo; kargo get freight --project kargo-demo lists them\n", r.stderr)

	r = h.run("promote", "--freight", freightA, "--stage", "nope")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: Stage \"nope\" not found in project \"kargo-demo\" (kargo get stages --project kargo-demo lists them)\n", r.stderr)

	for _, args := range [][]string{
		{"promote", "--stage", "test"},
		{"promote", "--stage", "test", "--freight", "a", "--freight-alias", "b"},
		{"promote", "--freight", "a"},
	} {
		r := h.run(args...)
		require.Equal(t, ExitUsage, r.code, "%v", args)
	}
}

// promoteAndWait runs `kargo promote --wait` and plays the controller:
// the Promotion goes through phases, each once the CLI has seen the one
// before.
func promoteAndWait(t *testing.T, h *harness, phases []kargoapi.PromotionStatus) result {
	t.Helper()
	// Only the watch moves the wait on, so that every phase is seen in
	// order.
	h.g.pollInterval = time.Hour
	done := make(chan result, 1)
	go func() {
		done <- h.run("promote", "--freight", freightA, "--stage", "test", "--wait", "--timeout", "30s")
	}()
	var promo *kargoapi.Promotion
	eventually(t, "the Promotion is created and followed", func() bool {
		ps := h.srv.Objects(apiclient.Promotions, "kargo-demo")
		if len(ps) == 0 || h.srv.Watchers() == 0 {
			return false
		}
		promo = ps[0].(*kargoapi.Promotion)
		return slices.Contains(h.srv.Requests(), "GET /api/v1/projects/kargo-demo/promotions/"+promo.Name)
	})
	for _, st := range phases {
		promo.Status = st
		h.srv.Update(promo)
	}
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("kargo promote --wait did not end")
	}
	return result{}
}

func TestPromoteWaitSucceeded(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(stageType, freightType)
	r := promoteAndWait(t, h, []kargoapi.PromotionStatus{
		{Phase: kargoapi.PromotionPhaseRunning, Message: "Updating Argo CD Application test"},
		{Phase: kargoapi.PromotionPhaseSucceeded},
	})
	require.Equal(t, ExitOK, r.code, r.stderr)
	name := h.srv.Objects(apiclient.Promotions, "kargo-demo")[0].GetName()
	require.Equal(t, name+"\n"+
		"Promotion "+name+" is Pending\n"+
		"Promotion "+name+" is Running: Updating Argo CD Application test\n"+
		"Promotion "+name+" Succeeded\n", r.stdout)
	require.Empty(t, r.stderr)
}

func TestPromoteWaitFailed(t *testing.T) {
	for _, phase := range []kargoapi.PromotionPhase{kargoapi.PromotionPhaseFailed, kargoapi.PromotionPhaseErrored} {
		t.Run(string(phase), func(t *testing.T) {
			h := newHarness(t, true)
			h.addFixtures(stageType, freightType)
			r := promoteAndWait(t, h, []kargoapi.PromotionStatus{
				{Phase: phase, Message: "Freight is not available to Stage test"},
			})
			require.Equal(t, ExitPromotionFailed, r.code)
			name := h.srv.Objects(apiclient.Promotions, "kargo-demo")[0].GetName()
			require.Equal(t, name+"\nPromotion "+name+" is Pending\n", r.stdout)
			require.Equal(t, "Error: Promotion "+name+" "+string(phase)+": Freight is not available to Stage test\n", r.stderr)
		})
	}
}

func TestPromoteWaitTimesOut(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(stageType, freightType)
	r := h.run("promote", "--freight", freightA, "--stage", "test", "--wait", "--timeout", "100ms")
	require.Equal(t, ExitError, r.code)
	require.Regexp(t, `^Error: Promotion test\.\d+: still not done after --timeout 100ms\n$`, r.stderr)
}

func TestProgressOnATerminal(t *testing.T) {
	var out syncBuffer
	p := &progress{w: &out, tty: true}
	promo := &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "test.1"}}
	p.show(promotionLine(promo, 1500*time.Millisecond, true))
	promo.Status = kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseRunning, Message: "committing"}
	p.show(promotionLine(promo, 3*time.Second, true))
	promo.Status = kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseSucceeded}
	p.done(promotionLine(promo, 4*time.Second, false))
	require.Equal(t, "\rPromotion test.1 is Pending (2s)\x1b[K"+
		"\rPromotion test.1 is Running (3s): committing\x1b[K"+
		"\rPromotion test.1 Succeeded\x1b[K\n", out.String())

	out = syncBuffer{}
	p = &progress{w: &out, tty: true}
	p.show("Promotion x is Running (1s)")
	p.done("")
	require.Equal(t, "\rPromotion x is Running (1s)\x1b[K\r\x1b[K", out.String(), "a failed Promotion leaves no progress line behind")
}

func TestApprove(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(stageType, freightType)
	for _, args := range [][]string{
		{"approve", "--freight", "mortal-dragonfly", "--stage", "production"},
		{"approve", "--freight", freightA, "--stage", "production", "--project", "kargo-demo"},
		{"approve", "--freight-alias", "mortal-dragonfly", "--stage", "production"},
	} {
		r := h.run(args...)
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "Freight "+freightA+" (mortal-dragonfly) approved for Stage production\n", r.stdout)
	}
	f := h.srv.Object(apiclient.Freight, "kargo-demo", freightA).(*kargoapi.Freight)
	require.Contains(t, f.Status.ApprovedFor, "production")

	r := h.run("approve", "--freight-alias", "nope", "--stage", "production")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: no Freight with alias nope in project kargo-demo; kargo get freight --project kargo-demo lists them\n", r.stderr)
}

func TestAnAliasHeldTwiceIsRefused(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(stageType, freightType)
	// Right after an alias change the label may lag the field: both count.
	f := h.srv.Object(apiclient.Freight, "kargo-demo", freightB).(*kargoapi.Freight)
	f.Alias = "mortal-dragonfly"
	h.srv.Update(f)
	r := h.run("promote", "--freight-alias", "mortal-dragonfly", "--stage", "test")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: alias mortal-dragonfly is held by several Freight in project kargo-demo ("+freightA+", "+freightB+"); name the Freight instead\n", r.stderr)
	require.Empty(t, h.srv.Objects(apiclient.Promotions, "kargo-demo"), "nothing was promoted")
}

func TestUpdateFreightAlias(t *testing.T) {
	h := newHarness(t, false)
	h.addFixtures(freightType)
	r := h.run("update", "freight", "--project=kargo-demo", "--name="+freightA, "--new-alias=frozen-yak")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Freight "+freightA+" is now aliased frozen-yak (was mortal-dragonfly)\n", r.stdout)

	r = h.run("update", "freight", "--project=kargo-demo", "--old-alias=frozen-yak", "--new-alias=mortal-dragonfly")
	require.Equal(t, ExitOK, r.code, r.stderr)
	f := h.srv.Object(apiclient.Freight, "kargo-demo", freightA).(*kargoapi.Freight)
	require.Equal(t, "mortal-dragonfly", f.Alias)

	r = h.run("update", "freight", "--project=kargo-demo", "--old-alias=mortal-dragonfly", "--new-alias=frozen-tauntaun")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: set the alias of Freight "+freightA+": alias \"frozen-tauntaun\" is already used by Freight "+freightB+"\n", r.stderr)

	r = h.run("update", "freight", "--project=kargo-demo", "--old-alias=gone", "--new-alias=x")
	require.Equal(t, "Error: no Freight with alias gone in project kargo-demo; kargo get freight --project kargo-demo lists them\n", r.stderr)

	for _, args := range [][]string{
		{"update", "freight", "--project=kargo-demo", "--new-alias=x"},
		{"update", "freight", "--project=kargo-demo", "--name=a", "--old-alias=b", "--new-alias=x"},
		{"update", "freight", "--project=kargo-demo", "--name=a"},
	} {
		require.Equal(t, ExitUsage, h.run(args...).code, "%v", args)
	}
}

func TestRefreshWait(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(warehouseType)
	done := make(chan result, 1)
	go func() { done <- h.run("refresh", "warehouse", "kargo-demo", "--wait", "--timeout", "30s") }()

	var w *kargoapi.Warehouse
	eventually(t, "the refresh is requested", func() bool {
		o := h.srv.Object(apiclient.Warehouses, "kargo-demo", "kargo-demo")
		w = o.(*kargoapi.Warehouse)
		return w.Annotations[warehouse.RefreshAnnotationKey] != ""
	})
	// An unrelated status write does not end the wait, even once the CLI
	// has read it twice...
	w.Status.LastHandledRefresh = "an older token"
	h.srv.Update(w)
	reads := func() int {
		return len(slices.DeleteFunc(h.srv.Requests(), func(r string) bool {
			return r != "GET /api/v1/projects/kargo-demo/warehouses/kargo-demo"
		}))
	}
	before := reads()
	eventually(t, "the CLI reads the Warehouse again", func() bool { return reads() >= before+2 })
	select {
	case r := <-done:
		t.Fatalf("the wait ended before the refresh was handled: %+v", r)
	default:
	}
	// ...the controller acting on this token does.
	w.Status.LastHandledRefresh = w.Annotations[warehouse.RefreshAnnotationKey]
	w.Status.LastFreight = &kargoapi.FreightReference{Name: freightB, Alias: "frozen-tauntaun"}
	h.srv.Update(w)
	r := <-done
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Refresh of Warehouse kargo-demo requested\nWarehouse kargo-demo refreshed; its newest Freight is "+freightB+" (frozen-tauntaun)\n", r.stdout)
}

func TestRefreshWaitReportsAFailedDiscovery(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(warehouseType)
	h.srv.Override("POST /api/v1/projects/kargo-demo/warehouses/fresh/refresh", func(w http.ResponseWriter, _ *http.Request) {
		// The controller is faster than the CLI: the refresh is handled
		// by the time the CLI first looks.
		wh := h.srv.Object(apiclient.Warehouses, "kargo-demo", "fresh").(*kargoapi.Warehouse)
		wh.Annotations = map[string]string{warehouse.RefreshAnnotationKey: "tok"}
		wh.Status.LastHandledRefresh = "tok"
		wh.Status.Conditions = []metav1.Condition{{Type: kargoapi.ConditionReady, Status: metav1.ConditionFalse, Reason: "DiscoveryFailed", Message: "ghcr.io/example/app: 404 repository not found"}}
		h.srv.Update(wh)
		writeTestJSON(t, w, wh)
	})
	r := h.run("refresh", "warehouses", "fresh", "--wait")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: Warehouse fresh refreshed, but it is not Ready: ghcr.io/example/app: 404 repository not found\n", r.stderr)
}

func TestRefreshStage(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(stageType)
	r := h.run("refresh", "stage", "test", "--wait")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Refresh of Stage test requested\nStage test subscribes to no repositories itself; there is nothing to wait for\n", r.stdout)
	st := h.srv.Object(apiclient.Stages, "kargo-demo", "test")
	require.NotEmpty(t, st.GetAnnotations()[warehouse.RefreshAnnotationKey])

	r = h.run("refresh", "stage", "nope")
	require.Equal(t, "Error: Stage \"nope\" not found in project \"kargo-demo\" (kargo get stages --project kargo-demo lists them)\n", r.stderr)
}

func TestVerifyGoesThroughTheAPI(t *testing.T) {
	h := newHarness(t, false)
	h.addFixtures(stageType)
	r := h.run("verify", "stage", "test", "--project", "kargo-demo", "--abort")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "abort of the verification of Stage test requested; follow it in its status.verification\n", r.stdout)
	st := h.srv.Object(apiclient.Stages, "kargo-demo", "test")
	require.NotEmpty(t, st.GetAnnotations()[kargoapi.AbortVerificationAnnotationKey])

	r = h.run("verify", "stage", "test", "--project", "kargo-demo")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "re-verification of Stage test requested; follow it in its status.verification\n", r.stdout)

	r = h.run("verify", "stage", "nope", "--project", "kargo-demo")
	require.Equal(t, ExitError, r.code)
	require.Contains(t, r.stderr, `Stage "nope" not found in project`)

	r = h.run("verify", "stage", "test", "--project", "kargo-demo", "--kubeconfig", "/x")
	require.Equal(t, ExitUsage, r.code)
	require.Contains(t, r.stderr, "--kubeconfig is no longer used")
}

func TestManifests(t *testing.T) {
	h := newHarness(t, true)
	h.addFixtures(stageType)
	dir := t.TempDir()
	stages := filepath.Join(dir, "stages.yaml")
	require.NoError(t, os.WriteFile(stages, []byte(`apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: uat
  namespace: kargo-demo
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: test
  namespace: kargo-demo`), 0o600))
	const policy = `{"apiVersion":"kargo.akuity.io/v1alpha1","kind":"PromotionPolicy","metadata":{"name":"uat","namespace":"kargo-demo"},"stage":"uat"}`

	r := h.runIn(context.Background(), policy, "create", "-f", stages, "-f", "-")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "stage.kargo.akuity.io/uat created\npromotionpolicy.kargo.akuity.io/uat created\n", r.stdout)
	require.Equal(t, "stage.kargo.akuity.io/test refused (AlreadyExists): stages \"test\" already exists\nError: 1 of 3 objects refused\n", r.stderr)

	r = h.run("apply", "-f", dir)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "stage.kargo.akuity.io/uat configured\nstage.kargo.akuity.io/test configured\n", r.stdout)

	r = h.run("delete", "--filename", stages)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "stage.kargo.akuity.io/uat deleted\nstage.kargo.akuity.io/test deleted\n", r.stdout)
	require.Nil(t, h.srv.Object(apiclient.Stages, "kargo-demo", "test"))

	require.Equal(t, ExitUsage, h.run("apply").code)
	require.Equal(t, ExitUsage, h.runIn(context.Background(), "\n---\n", "apply", "-f", "-").code)
	r = h.run("apply", "-f", filepath.Join(dir, "missing.yaml"))
	require.Equal(t, ExitError, r.code)
	require.Contains(t, r.stderr, "read manifests")
}

func TestGetWatch(t *testing.T) {
	h := newHarness(t, true)
	fx := fixtures()
	h.srv.Add(fx[promotionType][0])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, done := h.start(ctx, "get", "promotions", "--watch")
	eventually(t, "the watch is open", func() bool { return h.srv.Watchers() == 1 })

	// What was listed comes again unchanged, as some servers start a watch:
	// it is not printed twice.
	h.srv.Replay(apiclient.Promotions, "kargo-demo")
	h.srv.Add(fx[promotionType][1])
	p := fx[promotionType][1].(*kargoapi.Promotion)
	p.Status.Phase = kargoapi.PromotionPhaseRunning
	h.srv.Update(p)
	eventually(t, "the change is printed", func() bool { return strings.Contains(out.String(), "Running") })
	// Ctrl-C ends a watch, and that is not a failure.
	cancel()
	r := <-done
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, ""+
		"NAME            STAGE   FREIGHT                                    PHASE       AGE\n"+
		"test.01jd8p3k   test    f5f87aa23c9e97f43eb83dd63768ee41f5ba3766   Succeeded   5m\n"+
		"prod.01jd8p9z   prod    0c6de4a53b2e7d8f9a1b2c3d4e5f60718293a4b5               10s\n"+
		"prod.01jd8p9z   prod    0c6de4a53b2e7d8f9a1b2c3d4e5f60718293a4b5   Running     10s\n", r.stdout)
}

func TestGetWatchOfNamedFreightByAlias(t *testing.T) {
	h := newHarness(t, true)
	fx := fixtures()
	h.srv.Add(fx[freightType]...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, done := h.start(ctx, "get", "freight", "frozen-tauntaun", "-w", "-o", "name")
	eventually(t, "the watch is open", func() bool { return h.srv.Watchers() == 1 })
	for _, o := range fx[freightType] {
		h.srv.Update(o)
	}
	eventually(t, "the change is printed", func() bool { return strings.Count(out.String(), "\n") == 2 })
	cancel()
	r := <-done
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, strings.Repeat("freight.kargo.akuity.io/"+freightB+"\n", 2), r.stdout, "only the Freight asked for")
}
