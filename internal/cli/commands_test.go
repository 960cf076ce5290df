package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

func TestLogin(t *testing.T) {
	h := newHarness(t, false)
	require.NoError(t, os.Remove(h.config))
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(kubetest.Token(alice)+"\n"), 0o600))

	r := h.run("login", api.URL, "--token-file", tokenFile)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Logged in to "+api.URL+" as alice\n", r.stdout)
	require.Equal(t, &Config{Server: api.URL, Token: kubetest.Token(alice)}, readConfig(t, h.config))
	require.Equal(t, os.FileMode(0o600), fileMode(t, h.config))
	require.Equal(t, os.FileMode(0o700), fileMode(t, filepath.Dir(h.config)))

	r = h.runIn(context.Background(), kubetest.Token(adam)+"\n", "login", api.URL, "--token-file", "-")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Logged in to "+api.URL+" as adam\n", r.stdout)
}

func TestLoginKeepsTheDefaultProjectOfItsServerOnly(t *testing.T) {
	h := newHarness(t, true)
	r := h.run("login", api.URL, "--token", kubetest.Token(adam))
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, h.project, readConfig(t, h.config).Project, "logging in again to the same server")

	require.NoError(t, saveConfig(h.config, &Config{Server: "https://old.example.com", Token: "x", Project: "old-project"}))
	r = h.run("login", api.URL, "--token", kubetest.Token(adam))
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, &Config{Server: api.URL, Token: kubetest.Token(adam)}, readConfig(t, h.config))
}

func TestLoginRefusesABadTokenAndKeepsTheConfig(t *testing.T) {
	h := newHarness(t, true)
	before := readConfig(t, h.config)
	r := h.run("login", api.URL, "--token", "wrong")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: log in to "+api.URL+": the server did not accept the token: the bearer token was not accepted (expired, revoked or for another cluster): run `kargo login` again\n", r.stderr)
	require.Equal(t, before, readConfig(t, h.config))
}

func TestLoginUsage(t *testing.T) {
	h := newHarness(t, false)
	for _, args := range [][]string{
		{"login", api.URL},
		{"login", api.URL, "--token", "a", "--token-file", "b"},
		{"login", "--token", "a"},
		{"login", "ftp://x", "--token", "a"},
	} {
		r := h.run(args...)
		require.Equal(t, ExitUsage, r.code, "%v: %s", args, r.stderr)
	}
}

// The "Working With Freight" page's two outputs, from the real server: the
// same text but for the Freight's name, which is the fingerprint of other
// artifacts than the page's.
func TestGetFreightAsTheSeedPageShowsIt(t *testing.T) {
	h := newHarness(t, false)
	f := objects.Freight("", objects.Image("public.ecr.aws/nginx/nginx", "1.27.0"), objects.Alias("mortal-dragonfly"), objects.FromWarehouse("kargo-demo"))
	f.Status = kargoapi.FreightStatus{
		VerifiedIn:  map[string]kargoapi.VerifiedStage{"test": {}},
		ApprovedFor: map[string]kargoapi.ApprovedStage{"prod": {}},
	}
	h.create(f)
	h.g.now = func() time.Time { return f.CreationTimestamp.Add(35 * time.Second) }

	r := h.run("get", "freight", "--project", h.project)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, ""+
		"NAME                                       ALIAS              AGE\n"+
		f.Name+"   mortal-dragonfly   35s\n", r.stdout)

	r = h.run("get", "freight", "--project", h.project, "--output", "jsonpath-as-json={.status}")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "[\n    {\n        \"approvedFor\": {\n            \"prod\": {}\n        },\n        \"verifiedIn\": {\n            \"test\": {}\n        }\n    }\n]\n", r.stdout)
}

func TestGetNamesAndAliases(t *testing.T) {
	h := newHarness(t, true)
	a, b := h.pipeline()
	for _, alias := range []string{"freight", "freights"} {
		r := h.run("get", alias, "mortal-dragonfly", b.Name, "-o", "name")
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "freight.kargo.akuity.io/"+a.Name+"\nfreight.kargo.akuity.io/"+b.Name+"\n", r.stdout)
	}
	r := h.run("get", "stage", "test", "-o", "jsonpath={.spec.subscriptions.warehouse}")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "kargo-demo\n", r.stdout)

	// One missing name: the others are still printed, and the exit code
	// says something was missing.
	r = h.run("get", "stages", "test", "nope")
	require.Equal(t, ExitError, r.code)
	require.Regexp(t, `^NAME +CURRENT FREIGHT +HEALTH +PHASE +AGE\ntest +`, r.stdout)
	require.Equal(t, "Error: Stage \"nope\" not found in project \""+h.project+"\" (kargo get stages --project "+h.project+" lists them)\n", r.stderr)

	r = h.run("get", "freight", "no-such-alias")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: no Freight named or aliased \"no-such-alias\" in project "+h.project+"; kargo get freight --project "+h.project+" lists them\n", r.stderr)
}

func TestGetEveryTypeByEveryName(t *testing.T) {
	h := newHarness(t, true)
	a, _ := h.pipeline()
	h.create(
		&kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "test.1"}, Spec: kargoapi.PromotionSpec{Stage: "test", Freight: a.Name}},
		&kargoapi.PromotionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "test"}, Stage: "test", EnableAutoPromotion: true},
		&kargoapi.PromotionWindow{ObjectMeta: metav1.ObjectMeta{Name: "none"}, Spec: kargoapi.PromotionWindowSpec{
			Kind: kargoapi.PromotionWindowDeny, Spans: []kargoapi.PromotionWindowSpan{{Start: "00:00", End: "00:00"}},
			Stages: kargoapi.PromotionWindowStages{Names: []string{"no-such-stage"}}}},
		objects.ApprovalPolicy("", "prod", []string{"prod*"}, 1),
	)
	header := regexp.MustCompile(` {3,}`)
	for _, rt := range resourceTypes {
		if rt == projectType {
			// Projects are cluster-wide: only a cluster role lists them.
			h.login(admin)
		} else {
			h.login(adam)
		}
		for _, name := range append([]string{rt.plural()}, rt.aliases...) {
			r := h.run("get", name)
			require.Equal(t, ExitOK, r.code, "%s: %s", name, r.stderr)
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			require.Equal(t, rt.columns, header.Split(lines[0], -1), "%s: %s", name, r.stdout)
			require.Greater(t, len(lines), 1, "%s: a row under the header", name)
		}
	}
	h.login(admin)
	r := h.run("get", "projects", "-o", "name")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, strings.Split(r.stdout, "\n"), "project.kargo.akuity.io/"+h.project)
}

// TestGetFollowsPages lists more Freight than the server's page of 500.
func TestGetFollowsPages(t *testing.T) {
	h := newHarness(t, true)
	const n = 501
	ctx := context.Background()
	create := func(i int) error {
		f := objects.Freight("", objects.Image("public.ecr.aws/nginx/nginx", fmt.Sprintf("1.0.%d", i)), objects.Alias(""), objects.FromWarehouse("kargo-demo"))
		f.Namespace = h.project
		return env.Admin.Create(ctx, f)
	}
	// The oldest first, the newest last, the others in between at once.
	require.NoError(t, create(n-1))
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make(chan error, n)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				errs <- create(i)
			}
		})
	}
	for i := 1; i < n-1; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, create(0))
	c, err := apiclient.New(api.URL, kubetest.Token(adam))
	require.NoError(t, err)
	eventually(t, "the server lists every Freight", func() bool {
		l, err := c.List(ctx, apiclient.Freight, h.project, apiclient.ListOptions{Limit: 1})
		return err == nil && l.Total == n
	})

	r := h.run("get", "freight", "-o", "name")
	require.Equal(t, ExitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, n)
	require.Len(t, slices.Compact(slices.Sorted(slices.Values(lines))), n, "no Freight twice")
	// Newest first: 1.0.0 was created last.
	require.Equal(t, "freight.kargo.akuity.io/"+objects.Freight("", objects.Image("public.ecr.aws/nginx/nginx", "1.0.0"), objects.Alias(""), objects.FromWarehouse("kargo-demo")).Name, lines[0])
	require.Equal(t, "freight.kargo.akuity.io/"+objects.Freight("", objects.Image("public.ecr.aws/nginx/nginx", fmt.Sprintf("1.0.%d", n-1)), objects.Alias(""), objects.FromWarehouse("kargo-demo")).Name, lines[n-1])
}

func TestGetNothing(t *testing.T) {
	h := newHarness(t, true)
	r := h.run("get", "stages")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Empty(t, r.stdout)
	require.Equal(t, "No stages found in project "+h.project+".\n", r.stderr)

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

	h.login(admin)
	r = h.run("get", "projects", "nope")
	require.Equal(t, ExitError, r.code)
	require.Regexp(t, `^Error: project "nope" not found; the projects are [a-z0-9-]+`, r.stderr)
}

func TestNotLoggedIn(t *testing.T) {
	h := newHarness(t, true)
	r := h.run("--config", filepath.Join(t.TempDir(), "none.yaml"), "get", "stages")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: not logged in to a kargo API server; run kargo login SERVER --token-file FILE first\n", r.stderr)
}

func TestRefusalsSayWhatToDo(t *testing.T) {
	h := newHarness(t, true)
	a, _ := h.pipeline()
	cfg := readConfig(t, h.config)
	cfg.Token = "expired"
	require.NoError(t, saveConfig(h.config, cfg))
	r := h.run("get", "stages")
	require.Equal(t, ExitError, r.code)
	// The server's message already says to log in again; it is not said
	// twice.
	require.Equal(t, "Error: the bearer token was not accepted (expired, revoked or for another cluster): run `kargo login` again\n", r.stderr)

	// vera may read the Freight, but not promote it: the server's 403
	// names the verb.
	h.login(vera)
	r = h.run("promote", "--freight", "mortal-dragonfly", "--stage", "test")
	require.Equal(t, ExitError, r.code)
	denied := &authz.Denied{User: vera, Namespace: h.project, Stage: "test"}
	require.Equal(t, "Error: "+denied.Error()+"\n", r.stderr)
	require.Empty(t, h.promotions(), "nothing was promoted")

	r = h.run("update", "freight", "--old-alias", "mortal-dragonfly", "--new-alias", "x")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, `Error: user "vera" may not update freights.kargo.akuity.io "`+a.Name+`" in project "`+h.project+`"; a project administrator can grant it with a RoleBinding in the project to the kargo-admin ClusterRole`+"\n", r.stderr)
}

func TestPromote(t *testing.T) {
	h := newHarness(t, true)
	_, b := h.pipeline()
	r := h.run("promote", "--freight-alias", "frozen-tauntaun", "--stage", "test")
	require.Equal(t, ExitOK, r.code, r.stderr)
	promos := h.promotions()
	require.Len(t, promos, 1)
	require.Equal(t, promos[0].Name+"\n", r.stdout)
	require.Equal(t, kargoapi.PromotionSpec{Stage: "test", Freight: b.Name}, promos[0].Spec)

	r = h.run("promote", "--freight-alias", "nope", "--stage", "test")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: no Freight with alias nope in project "+h.project+"; kargo get freight --project "+h.project+" lists them\n", r.stderr)

	// The promotions webhook refuses a Promotion into a Stage that does
	// not exist; the refusal reaches the user through the server.
	r = h.run("promote", "--freight", b.Name, "--stage", "nope")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: promote Freight "+b.Name+" to Stage nope: admission webhook \"promotions.validate.kargo.akuity.io\" denied the request: spec.stage: Stage \"nope\" not found in project \""+h.project+"\"; a Promotion names a Stage of its own project\n", r.stderr)
	require.Len(t, h.promotions(), 1)

	for _, args := range [][]string{
		{"promote", "--stage", "test"},
		{"promote", "--stage", "test", "--freight", "a", "--freight-alias", "b"},
		{"promote", "--freight", "a"},
	} {
		r := h.run(args...)
		require.Equal(t, ExitUsage, r.code, "%v", args)
	}
}

// progressLines checks the lines `kargo promote --wait` printed before its
// last one: the Promotion's name, then where it was each time the CLI
// looked, in order. Which of Pending and Running the CLI sees depends on
// how fast the controller is.
func progressLines(t *testing.T, stdout, name string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Equal(t, name, lines[0], stdout)
	progress := regexp.MustCompile(`^Promotion ` + regexp.QuoteMeta(name) + ` is (Pending|Running)(: .+)?$`)
	for _, l := range lines[1 : len(lines)-1] {
		require.Regexp(t, progress, l, stdout)
	}
	return lines
}

func TestPromoteWaitSucceeded(t *testing.T) {
	h := newHarness(t, true)
	a, _ := h.pipeline()
	r := h.run("promote", "--freight", a.Name, "--stage", "test", "--wait", "--timeout", "1m")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Empty(t, r.stderr)
	promos := h.promotions()
	require.Len(t, promos, 1)
	name := promos[0].Name
	lines := progressLines(t, r.stdout, name)
	require.Equal(t, "Promotion "+name+" Succeeded: Promoted Freight mortal-dragonfly ("+a.Name+") into test", lines[len(lines)-1])
	for _, l := range lines {
		if strings.Contains(l, " is Running") {
			require.Equal(t, "Promotion "+name+" is Running: Promoting Freight mortal-dragonfly ("+a.Name+") into test", l)
		}
	}
	require.Equal(t, a.Name, get(h, "test", &kargoapi.Stage{}).Status.CurrentFreight.ID, "the Stage has the Freight")
}

// closedAddress is an address nothing listens on, as a Git host that is
// down.
func closedAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// gitOpsStage is a Stage that commits to the GitOps repository at repoURL.
func gitOpsStage(name, repoURL string) *kargoapi.Stage {
	return &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "kargo-demo"},
			PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
				RepoURL: kargoapi.GitRepoURL(repoURL), ReadBranch: "main", WriteBranch: kargoapi.BranchName("stages/" + name),
			}}},
		},
	}
}

func TestPromoteWaitFailed(t *testing.T) {
	t.Run("Failed", func(t *testing.T) {
		h := newHarness(t, true)
		a, _ := h.pipeline()
		// production takes Freight verified in test, which a is not.
		r := h.run("promote", "--freight", a.Name, "--stage", "production", "--wait", "--timeout", "1m")
		require.Equal(t, ExitPromotionFailed, r.code, r.stderr)
		name := h.promotions()[0].Name
		progressLines(t, r.stdout+"(the last line is on stderr)\n", name)
		require.Equal(t, "Error: Promotion "+name+" Failed: Freight is not available to Stage production: Freight mortal-dragonfly ("+a.Name+
			") is not verified in upstream Stage test and is not approved for production; promote it through test first, or approve it for production\n", r.stderr)
	})
	t.Run("Errored", func(t *testing.T) {
		h := newHarness(t, true)
		a, _ := h.pipeline()
		closed := closedAddress(t)
		controllers.AllowOutbound(t, closed)
		repo := "http://" + closed + "/gitops.git"
		h.create(gitOpsStage("broken", repo))
		r := h.run("promote", "--freight", a.Name, "--stage", "broken", "--wait", "--timeout", "1m")
		require.Equal(t, ExitPromotionFailed, r.code, r.stderr)
		name := h.promotions()[0].Name
		progressLines(t, r.stdout+"(the last line is on stderr)\n", name)
		require.Regexp(t, `^Error: Promotion `+name+` Errored: Promotion errored: gitRepoUpdates\[0\] \(`+regexp.QuoteMeta(repo)+`, branch stages/broken\): clone `+regexp.QuoteMeta(repo)+`: unreachable: .*; the repositories and the Stage are unchanged\n$`, r.stderr)
	})
}

// blackHole is an address that accepts connections and never answers, as
// a Git host does that hangs; it lives as long as the test.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// TestPromoteWaitTimesOut promotes into a Stage whose GitOps repository
// never answers, so that the Promotion runs longer than --timeout.
func TestPromoteWaitTimesOut(t *testing.T) {
	h := newHarness(t, true)
	a, _ := h.pipeline()
	hole := blackHole(t)
	controllers.AllowOutbound(t, hole)
	h.create(gitOpsStage("hanging", "http://"+hole+"/gitops.git"))
	r := h.run("promote", "--freight", a.Name, "--stage", "hanging", "--wait", "--timeout", "3s")
	require.Equal(t, ExitError, r.code, r.stderr)
	name := h.promotions()[0].Name
	require.Equal(t, "Error: Promotion "+name+": still not done after --timeout 3s\n", r.stderr)
	lines := progressLines(t, r.stdout+"last\n", name)
	require.Contains(t, lines, "Promotion "+name+" is Running: Promoting Freight mortal-dragonfly ("+a.Name+") into hanging")
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
	a, _ := h.pipeline()
	for _, args := range [][]string{
		{"approve", "--freight", "mortal-dragonfly", "--stage", "production"},
		{"approve", "--freight", a.Name, "--stage", "production", "--project", h.project},
		{"approve", "--freight-alias", "mortal-dragonfly", "--stage", "production"},
	} {
		r := h.run(args...)
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Equal(t, "Freight "+a.Name+" (mortal-dragonfly) approved for Stage production\n", r.stdout)
	}
	require.Contains(t, get(h, a.Name, &kargoapi.Freight{}).Status.ApprovedFor, "production")

	r := h.run("approve", "--freight-alias", "nope", "--stage", "production")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: no Freight with alias nope in project "+h.project+"; kargo get freight --project "+h.project+" lists them\n", r.stderr)

	r = h.run("approve", "--freight", a.Name, "--stage", "nope")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: Stage \"nope\" not found in project \""+h.project+"\" (kargo get stages --project "+h.project+" lists them)\n", r.stderr)
}

func TestUpdateFreightAlias(t *testing.T) {
	h := newHarness(t, false)
	a, b := h.pipeline()
	r := h.run("update", "freight", "--project="+h.project, "--name="+a.Name, "--new-alias=frozen-yak")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Freight "+a.Name+" is now aliased frozen-yak (was mortal-dragonfly)\n", r.stdout)
	got := get(h, a.Name, &kargoapi.Freight{})
	require.Equal(t, "frozen-yak", got.Alias)
	require.Equal(t, "frozen-yak", got.Labels[kargoapi.AliasLabelKey])

	r = h.run("update", "freight", "--project="+h.project, "--old-alias=frozen-yak", "--new-alias=mortal-dragonfly")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "mortal-dragonfly", get(h, a.Name, &kargoapi.Freight{}).Alias)

	// The Freight webhook refuses an alias another Freight holds; the 409
	// reaches the user through the server.
	r = h.run("update", "freight", "--project="+h.project, "--old-alias=mortal-dragonfly", "--new-alias=frozen-tauntaun")
	require.Equal(t, ExitError, r.code)
	require.Regexp(t, `^Error: set the alias of Freight `+a.Name+`: .*alias "frozen-tauntaun" is already held by Freight `+b.Name+` in project "`+h.project+`"`, r.stderr)

	r = h.run("update", "freight", "--project="+h.project, "--old-alias=gone", "--new-alias=x")
	require.Equal(t, "Error: no Freight with alias gone in project "+h.project+"; kargo get freight --project "+h.project+" lists them\n", r.stderr)

	for _, args := range [][]string{
		{"update", "freight", "--project=" + h.project, "--new-alias=x"},
		{"update", "freight", "--project=" + h.project, "--name=a", "--old-alias=b", "--new-alias=x"},
		{"update", "freight", "--project=" + h.project, "--name=a"},
	} {
		require.Equal(t, ExitUsage, h.run(args...).code, "%v", args)
	}
}

// TestRefreshWait: a Warehouse of a real registry finds the image pushed
// after its last look as soon as it is asked to.
func TestRefreshWait(t *testing.T) {
	h := newHarness(t, true)
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "app", "1.0.0", registry.Image{})
	h.create(warehouseNamed("kargo-demo", reg.Host()+"/app"))
	eventually(t, "the Warehouse produces its first Freight", func() bool {
		return get(h, "kargo-demo", &kargoapi.Warehouse{}).Status.LastFreight != nil
	})
	reg.PushImage(t, "app", "1.1.0", registry.Image{})

	r := h.run("refresh", "warehouse", "kargo-demo", "--wait", "--timeout", "1m")
	require.Equal(t, ExitOK, r.code, r.stderr)
	w := get(h, "kargo-demo", &kargoapi.Warehouse{})
	require.Equal(t, w.Annotations[kargoapi.RefreshAnnotationKey], w.Status.LastHandledRefresh)
	last := w.Status.LastFreight
	newest := get(h, last.Name, &kargoapi.Freight{})
	require.Equal(t, "1.1.0", newest.Images[0].Tag, "the refresh found the new image")
	require.Equal(t, "Refresh of Warehouse kargo-demo requested\nWarehouse kargo-demo refreshed; its newest Freight is "+last.Name+" ("+last.Alias+")\n", r.stdout)
}

func TestRefreshWaitReportsAFailedDiscovery(t *testing.T) {
	h := newHarness(t, true)
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	h.create(warehouseNamed("fresh", reg.Host()+"/missing"))
	r := h.run("refresh", "warehouses", "fresh", "--wait", "--timeout", "1m")
	require.Equal(t, ExitError, r.code)
	w := get(h, "fresh", &kargoapi.Warehouse{})
	var ready metav1.Condition
	for _, c := range w.Status.Conditions {
		if c.Type == kargoapi.ConditionReady {
			ready = c
		}
	}
	require.Equal(t, metav1.ConditionFalse, ready.Status)
	require.Contains(t, ready.Message, reg.Host()+"/missing")
	require.Equal(t, "Refresh of Warehouse fresh requested\n", r.stdout)
	require.Equal(t, "Error: Warehouse fresh refreshed, but it is not Ready: "+ready.Message+"\n", r.stderr)
}

func TestRefreshStage(t *testing.T) {
	h := newHarness(t, true)
	h.create(testStage())
	r := h.run("refresh", "stage", "test", "--wait")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Refresh of Stage test requested\nStage test subscribes to no repositories itself; there is nothing to wait for\n", r.stdout)
	require.NotEmpty(t, get(h, "test", &kargoapi.Stage{}).Annotations[kargoapi.RefreshAnnotationKey])

	r = h.run("refresh", "stage", "nope")
	require.Equal(t, "Error: Stage \"nope\" not found in project \""+h.project+"\" (kargo get stages --project "+h.project+" lists them)\n", r.stderr)
}

func TestVerifyGoesThroughTheAPI(t *testing.T) {
	h := newHarness(t, false)
	h.create(testStage())
	r := h.run("verify", "stage", "test", "--project", h.project, "--abort")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "abort of the verification of Stage test requested; follow it in its status.verification\n", r.stdout)
	require.NotEmpty(t, get(h, "test", &kargoapi.Stage{}).Annotations[kargoapi.AbortVerificationAnnotationKey])

	r = h.run("verify", "stage", "test", "--project", h.project)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "re-verification of Stage test requested; follow it in its status.verification\n", r.stdout)
	require.NotEmpty(t, get(h, "test", &kargoapi.Stage{}).Annotations[kargoapi.ReverifyAnnotationKey])

	r = h.run("verify", "stage", "nope", "--project", h.project)
	require.Equal(t, ExitError, r.code)
	require.Contains(t, r.stderr, `Stage "nope" not found in project`)

	r = h.run("verify", "stage", "test", "--project", h.project, "--kubeconfig", "/x")
	require.Equal(t, ExitUsage, r.code)
	require.Contains(t, r.stderr, "--kubeconfig is no longer used")
}

func TestManifests(t *testing.T) {
	h := newHarness(t, true)
	h.create(testStage())
	dir := t.TempDir()
	stages := filepath.Join(dir, "stages.yaml")
	require.NoError(t, os.WriteFile(stages, []byte(`apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: uat
  namespace: `+h.project+`
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: test
  namespace: `+h.project), 0o600))
	policy := `{"apiVersion":"kargo.akuity.io/v1alpha1","kind":"PromotionPolicy","metadata":{"name":"uat","namespace":"` + h.project + `"},"stage":"uat"}`

	r := h.runIn(context.Background(), policy, "create", "-f", stages, "-f", "-")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "stage.kargo.akuity.io/uat created\npromotionpolicy.kargo.akuity.io/uat created\n", r.stdout)
	require.Equal(t, "stage.kargo.akuity.io/test refused (AlreadyExists): stages.kargo.akuity.io \"test\" already exists\nError: 1 of 3 objects refused\n", r.stderr)

	r = h.run("apply", "-f", dir)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "stage.kargo.akuity.io/uat unchanged\nstage.kargo.akuity.io/test unchanged\n", r.stdout)
	raw, err := os.ReadFile(stages)
	require.NoError(t, err)
	subscribed := strings.Replace(string(raw), "  name: uat\n  namespace: "+h.project+"\n",
		"  name: uat\n  namespace: "+h.project+"\nspec:\n  subscriptions:\n    upstreamStages:\n    - name: test\n", 1)
	require.NoError(t, os.WriteFile(stages, []byte(subscribed), 0o600))
	r = h.run("apply", "-f", dir)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "stage.kargo.akuity.io/uat configured\nstage.kargo.akuity.io/test unchanged\n", r.stdout)
	require.Equal(t, "test", get(h, "uat", &kargoapi.Stage{}).Spec.Subscriptions.UpstreamStages[0].Name)

	r = h.run("delete", "--filename", stages)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "stage.kargo.akuity.io/uat deleted\nstage.kargo.akuity.io/test deleted\n", r.stdout)
	err = env.Admin.Get(context.Background(), client.ObjectKey{Namespace: h.project, Name: "test"}, &kargoapi.Stage{})
	require.Error(t, err, "the Stage is gone")

	require.Equal(t, ExitUsage, h.run("apply").code)
	require.Equal(t, ExitUsage, h.runIn(context.Background(), "\n---\n", "apply", "-f", "-").code)
	r = h.run("apply", "-f", filepath.Join(dir, "missing.yaml"))
	require.Equal(t, ExitError, r.code)
	require.Contains(t, r.stderr, "read manifests")
}

// TestGetWatch follows Promotions while the controller runs a new one. The
// server starts a watch by sending every object again; what was just
// listed is not printed twice.
func TestGetWatch(t *testing.T) {
	h := newHarness(t, true)
	a, b := h.pipeline()
	first := &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "test.1"}, Spec: kargoapi.PromotionSpec{Stage: "test", Freight: b.Name}}
	h.create(first)
	eventually(t, "the first Promotion ends", func() bool {
		return get(h, first.Name, &kargoapi.Promotion{}).Status.Phase.IsTerminal()
	})
	h.served(first)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, done := h.start(ctx, "get", "promotions", "--watch")
	eventually(t, "the listing is printed", func() bool { return strings.Count(out.String(), "\n") == 2 })
	second := &kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "test.2"}, Spec: kargoapi.PromotionSpec{Stage: "test", Freight: a.Name}}
	h.create(second)
	eventually(t, "the new Promotion's end is printed", func() bool {
		return regexp.MustCompile(`(?m)^test\.2 +test +` + a.Name + ` +Succeeded `).MatchString(out.String())
	})
	// Ctrl-C ends a watch, and that is not a failure.
	cancel()
	r := <-done
	require.Equal(t, ExitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Regexp(t, `^NAME +STAGE +FREIGHT +PHASE +STEP +AGE$`, lines[0])
	require.Regexp(t, `^test\.1 +test +`+b.Name+` +Succeeded( +\d+/\d+ \S+)? +\S+$`, lines[1])
	for _, l := range lines[2:] {
		require.Regexp(t, `^test\.2 +test +`+a.Name+` +(Pending|Running|Succeeded)?( +\d+/\d+ \S+)? +\S+$`, l, "only the new Promotion's changes: %s", r.stdout)
	}
	// Rows a watch adds line up with the listing's.
	require.Equal(t, strings.Index(lines[0], "FREIGHT"), strings.Index(lines[len(lines)-1], a.Name))
}

func TestGetWatchOfNamedFreightByAlias(t *testing.T) {
	h := newHarness(t, true)
	a, b := h.pipeline()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, done := h.start(ctx, "get", "freight", "frozen-tauntaun", "-w", "-o", "name")
	eventually(t, "the listing is printed", func() bool { return out.String() != "" })
	// Both change, a first: the watch delivers changes in order, so a
	// would be printed before b if it were printed at all.
	for _, f := range []*kargoapi.Freight{a, b} {
		live := get(h, f.Name, &kargoapi.Freight{})
		live.Status.ApprovedFor = map[string]kargoapi.ApprovedStage{"production": {}}
		require.NoError(t, env.Admin.Status().Update(ctx, live))
	}
	eventually(t, "the change is printed", func() bool { return strings.Count(out.String(), "\n") == 2 })
	cancel()
	r := <-done
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, strings.Repeat("freight.kargo.akuity.io/"+b.Name+"\n", 2), r.stdout, "only the Freight asked for")
}

// TestPromoterWhoMayNotReadFreight: a Role like the seed's uat-promoter
// grants the promote verb on one Stage and Promotions, but no right to
// read Freight. The server judges promote and approve by the promote verb
// alone, so the CLI leaves finding the Freight to it.
func TestPromoterWhoMayNotReadFreight(t *testing.T) {
	h := newHarness(t, true)
	a, _ := h.pipeline()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "test-promoter", Namespace: h.project},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"promotions"}, Verbs: []string{"create", "get", "list", "watch"}},
			{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"stages"}, ResourceNames: []string{"test"}, Verbs: []string{authz.PromoteVerb}},
		},
	}
	require.NoError(t, env.Admin.Create(context.Background(), role))
	env.Bind(t, h.project, kubetest.Bob, "Role", role.Name)
	h.login(kubetest.Bob)

	r := h.run("approve", "--freight-alias", "mortal-dragonfly", "--stage", "test")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "Freight "+a.Name+" (mortal-dragonfly) approved for Stage test\n", r.stdout)

	r = h.run("promote", "--freight", "mortal-dragonfly", "--stage", "test", "--wait", "--timeout", "1m")
	require.Equal(t, ExitOK, r.code, r.stderr)
	promos := h.promotions()
	require.Len(t, promos, 1)
	require.Equal(t, kargoapi.PromotionSpec{Stage: "test", Freight: a.Name}, promos[0].Spec)

	// What is missing, the server says.
	r = h.run("approve", "--freight", "no-such-alias", "--stage", "test")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: Freight alias \"no-such-alias\" not found in project \""+h.project+"\"; kargo get freight --project "+h.project+" lists them\n", r.stderr)
	r = h.run("promote", "--freight", "no-such-alias", "--stage", "test")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: Freight alias \"no-such-alias\" not found in project \""+h.project+"\"; kargo get freight --project "+h.project+" lists them\n", r.stderr)

	// Other Stages stay closed.
	r = h.run("approve", "--freight", a.Name, "--stage", "production")
	require.Equal(t, ExitError, r.code)
	require.Equal(t, "Error: "+(&authz.Denied{User: kubetest.Bob, Namespace: h.project, Stage: "production"}).Error()+"\n", r.stderr)
}

// A Promotion waiting for approval is followed with --follow, aborted with
// --abort (as the person who asked), and cannot be aborted twice.
func TestPromoteFollowAndAbort(t *testing.T) {
	h := newHarness(t, true)
	a, _ := h.pipeline()
	h.create(objects.ApprovalPolicy("", "gate", []string{"te*"}, 1))
	r := h.run("promote", "--freight", a.Name, "--stage", "test")
	require.Equal(t, ExitOK, r.code, r.stderr)
	name := strings.TrimSpace(r.stdout)

	r = h.run("promote", "--follow", name, "--timeout", "3s")
	require.Equal(t, ExitError, r.code, r.stdout)
	require.Contains(t, r.stdout, "Promotion "+name+" is Pending: Waiting for approval: 1 more approval from anyone with the approve verb on the Stage (ApprovalPolicy gate asks for 1); adam's own approval does not count")
	require.Contains(t, r.stderr, "still not done after --timeout 3s")

	r = h.run("promote", "--abort", name, "--stage", "test")
	require.Equal(t, ExitUsage, r.code)
	require.Contains(t, r.stderr, "--abort and --follow name a Promotion that exists")

	r = h.run("promote", "--abort", name, "--wait")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "Promotion "+name+" Aborted: Aborted by adam before it started")
	p := get(h, name, &kargoapi.Promotion{})
	require.Equal(t, kargoapi.PromotionPhaseAborted, p.Status.Phase)
	require.Equal(t, adam, p.Status.AbortedBy)

	r = h.run("promote", "--abort", name)
	require.Equal(t, ExitError, r.code)
	require.Contains(t, r.stderr, "has ended (Aborted); only a Promotion that is Pending or Running can be aborted")
}
