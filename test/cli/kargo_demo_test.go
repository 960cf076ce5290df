package cli

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/cli"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

const (
	demo = "kargo-demo"
	// pageFingerprint is the Freight name the "Working With Freight" page
	// shows. It is the fingerprint of artifacts this test does not have,
	// so the page's lines are run with the real name in its place.
	pageFingerprint = "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766"
)

// demoFreight is Freight of Warehouse kargo-demo for one nginx image, named
// after it as the Freight webhook insists.
func demoFreight(tag, alias string) *kargoapi.Freight {
	images := []kargoapi.Image{{RepoURL: "public.ecr.aws/nginx/nginx", Tag: tag, Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(tag)))}}
	return &kargoapi.Freight{
		TypeMeta: metav1.TypeMeta{APIVersion: kargoapi.GroupVersion.String(), Kind: "Freight"},
		ObjectMeta: metav1.ObjectMeta{
			Name: freight.Fingerprint(&kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "kargo-demo"}, nil, images, nil), Namespace: demo,
		},
		Alias:  alias,
		Origin: &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "kargo-demo"},
		Images: images,
	}
}

// setUpKargoDemo creates the kargo-demo Project with the seed's bindings
// for alice (kargo-promoter) and bob (promote to uat only), applied
// unchanged with kubectl; adam administers it (kargo-admin) and nobody
// holds no right. Its pipeline is Warehouse kargo-demo feeding Stages test,
// uat and prod in a line, with Freight mortal-dragonfly. The Warehouse's
// registry is down: the Freight is what it found before, and nothing new
// comes.
func setUpKargoDemo(t *testing.T) *kargoapi.Freight {
	t.Helper()
	ctx := context.Background()
	if err := env.Admin.Get(ctx, client.ObjectKey{Name: demo}, &kargoapi.Project{}); err == nil {
		t.Fatal("kargo-demo exists already: the story starts from a fresh installation, so it runs once per test process (-count=1)")
	}
	env.CreateProject(t, demo)
	env.SeedRBAC(t)
	env.Bind(t, demo, kubetest.Adam, "ClusterRole", "kargo-admin")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := ln.Addr().String()
	require.NoError(t, ln.Close())
	f := demoFreight("1.27.0", "mortal-dragonfly")
	objs := []client.Object{
		&kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: "kargo-demo", Namespace: demo},
			Spec: kargoapi.WarehouseSpec{
				Interval:      &metav1.Duration{Duration: time.Hour},
				Subscriptions: kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(down + "/nginx")}}},
			},
		},
		&kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: demo},
			Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "kargo-demo"}},
		},
		&kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "uat", Namespace: demo},
			Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}}},
		},
		&kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: demo},
			Spec:       kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "uat"}}}},
		},
		&kargoapi.PromotionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: demo}, Stage: "test"},
		f,
	}
	for _, o := range objs {
		require.NoError(t, env.Admin.Create(ctx, o))
	}
	return f
}

// settle waits until the controllers are done and the API server's cache
// has caught up: no Promotion runs, every Stage was reconciled at its
// generation, the Warehouse has found its registry down, and the server lists every object of
// kargo-demo as the kube-apiserver holds it. A user who looks a moment
// after a change sees the same.
func settle(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c, err := apiclient.New(api.URL, kubetest.Token("admin"))
	require.NoError(t, err)
	kubetest.Eventually(t, time.Minute, "kargo-demo settles", func() (bool, string) {
		promos := &kargoapi.PromotionList{}
		if err := env.Admin.List(ctx, promos, client.InNamespace(demo)); err != nil {
			return false, err.Error()
		}
		for _, p := range promos.Items {
			if !p.Status.Phase.IsTerminal() {
				return false, "Promotion " + p.Name + " is " + string(p.Status.Phase)
			}
		}
		stages := &kargoapi.StageList{}
		if err := env.Admin.List(ctx, stages, client.InNamespace(demo)); err != nil {
			return false, err.Error()
		}
		for _, st := range stages.Items {
			if st.Status.ObservedGeneration != st.Generation || st.Status.CurrentPromotion != nil {
				return false, "Stage " + st.Name + " is not reconciled"
			}
		}
		whs := &kargoapi.WarehouseList{}
		if err := env.Admin.List(ctx, whs, client.InNamespace(demo)); err != nil {
			return false, err.Error()
		}
		for _, w := range whs.Items {
			// Its registry is down: it keeps retrying, Ready False.
			ready := meta.FindStatusCondition(w.Status.Conditions, kargoapi.ConditionReady)
			if ready == nil || ready.ObservedGeneration != w.Generation {
				return false, "Warehouse " + w.Name + " has not looked at its registry yet"
			}
		}
		for _, k := range []struct {
			api  apiclient.Kind
			list string
		}{
			{apiclient.Warehouses, "WarehouseList"}, {apiclient.Stages, "StageList"}, {apiclient.Freight, "FreightList"},
			{apiclient.Promotions, "PromotionList"}, {apiclient.PromotionPolicies, "PromotionPolicyList"},
		} {
			stored := &metav1.PartialObjectMetadataList{}
			stored.SetGroupVersionKind(kargoapi.GroupVersion.WithKind(k.list))
			if err := env.Admin.List(ctx, stored, client.InNamespace(demo)); err != nil {
				return false, err.Error()
			}
			items, err := c.ListAll(ctx, k.api, demo, apiclient.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			served, err := apiclient.DecodeItems[metav1.PartialObjectMetadata](items)
			if err != nil {
				return false, err.Error()
			}
			want, got := map[string]string{}, map[string]string{}
			for _, o := range stored.Items {
				want[o.Name] = o.ResourceVersion
			}
			for _, o := range served {
				got[o.Name] = o.ResourceVersion
			}
			if fmt.Sprint(want) != fmt.Sprint(got) {
				return false, fmt.Sprintf("%s: stored %v, served %v", k.api, want, got)
			}
		}
		return true, ""
	})
}

// TestKargoDemo is a story in chapters, each a transcript in testdata:
// what alice, adam, bob and nobody run in kargo-demo and what they see.
// Each chapter builds on the ones before; run them together.
func TestKargoDemo(t *testing.T) {
	f := setUpKargoDemo(t)
	s := newSession(t)
	settle(t)

	workingWithFreight(t, s, f)
	tables(t, s)
	g := promoteAndWait(t, s)
	authorization(t, s, f, g)
	accessControl(t, s)
	// The audit trail is read right after the chapters above, before the
	// newcomer's mistakes below add their refusals to it.
	auditTrail(t, s)
	mistypedProject(t, s)
	refusals(t, s)
	serverDown(t, s)
}

// workingWithFreight runs the command lines of the "Working With Freight"
// page as written, with the real Freight's name in place of the page's.
func workingWithFreight(t *testing.T, s *session, f *kargoapi.Freight) {
	page := func(line string) string { return strings.ReplaceAll(line, pageFingerprint, f.Name) }
	s.note(
		"The command lines of the \"Working With Freight\" page, as written but for one thing:",
		"the page's Freight, "+pageFingerprint+", is named after artifacts",
		"this test does not have; "+f.Name+" is public.ecr.aws/nginx/nginx:1.27.0.",
	)
	s.login("alice")
	r := s.run("kargo get freight --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)

	s.note("Renaming Freight takes a role that may update it: adam's kargo-admin (alice is a promoter).")
	s.login("adam")
	r = s.run(page("kargo update freight \\\n  --project=kargo-demo \\\n  --name=f5f87aa23c9e97f43eb83dd63768ee41f5ba3766 \\\n  --new-alias=frozen-tauntaun"))
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	s.note("Not on the page: the alias back, so that the page's other form can be run as written.")
	r = s.run(page("kargo update freight --project=kargo-demo --name=f5f87aa23c9e97f43eb83dd63768ee41f5ba3766 --new-alias=mortal-dragonfly"))
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = s.run("kargo update freight \\\n  --project=kargo-demo \\\n  --old-alias=mortal-dragonfly \\\n  --new-alias=frozen-tauntaun")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	live := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(f), live))
	require.Equal(t, "frozen-tauntaun", live.Labels[kargoapi.AliasLabelKey], "the label follows the alias")

	s.note("Not on the page: the Freight is promoted to test, where it is verified, as the page's status shows.")
	s.login("alice")
	r = s.run("kargo promote --project kargo-demo --freight frozen-tauntaun --stage test --wait --timeout 1m")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = s.run(page("kargo approve \\\n  --freight f5f87aa23c9e97f43eb83dd63768ee41f5ba3766 \\\n  --stage prod \\\n  --project kargo-demo"))
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	settle(t)
	r = s.run("kargo get freight \\\n  --project kargo-demo \\\n  --output jsonpath-as-json={.status}")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, `"approvedFor": {`+"\n"+`            "prod": {`)
	require.Contains(t, r.stdout, `"approvedBy": "alice"`, "the approver, written by the API server")
	r = s.run(page("kargo get freight f5f87aa23c9e97f43eb83dd63768ee41f5ba3766 --project kargo-demo --output jsonpath-as-json={.status}"))
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	s.golden("working_with_freight")
}

// tables lists every kind, as a table and by name.
func tables(t *testing.T, s *session) {
	settle(t)
	s.note("Projects are cluster-wide: listing them takes a cluster role, here the administrator's.")
	s.login("admin")
	for _, line := range []string{"kargo get projects", "kargo get projects -o name"} {
		r := s.run(line)
		require.Equal(t, cli.ExitOK, r.code, r.stderr)
	}
	s.login("alice")
	for _, kind := range []string{"warehouses", "stages", "freight", "promotions", "promotionpolicies"} {
		for _, line := range []string{"kargo get " + kind + " --project kargo-demo", "kargo get " + kind + " --project kargo-demo -o name"} {
			r := s.run(line)
			require.Equal(t, cli.ExitOK, r.code, r.stderr)
			require.NotEmpty(t, r.stdout)
		}
	}
	s.golden("tables")
}

// promoteAndWait follows a Promotion that succeeds and one that fails, and
// returns the Freight of the second.
func promoteAndWait(t *testing.T, s *session) *kargoapi.Freight {
	s.login("alice")
	r := s.run("kargo promote --project kargo-demo --freight frozen-tauntaun --stage uat --wait --timeout 1m")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	succeeded := firstLine(r.stdout)
	checkProgress(t, r.stdout, succeeded)

	g := demoFreight("1.27.1", "jolly-narwhal")
	manifest, err := yaml.Marshal(g)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile("freight.yaml", manifest, 0o600))
	s.note("New Freight, written as the Warehouse would have made it, created by a project administrator.")
	s.login("adam")
	r = s.run("kargo create -f freight.yaml")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)

	s.note("uat takes Freight verified in test, which jolly-narwhal is not: the Promotion fails (exit code 3).")
	s.login("alice")
	r = s.run("kargo promote --project kargo-demo --freight jolly-narwhal --stage uat --wait --timeout 1m")
	require.Equal(t, cli.ExitPromotionFailed, r.code, r.stderr)
	failed := firstLine(r.stdout)
	checkProgress(t, r.stdout, failed)
	require.Contains(t, r.stderr, "Freight is not available to Stage uat")

	settle(t)
	r = s.run("kargo get promotions " + succeeded + " " + failed + " --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	r = s.run("kargo get stages --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	s.golden("promote_wait")
	return g
}

// authorization runs commands as bob, who may promote to uat only, and as
// nobody, who may do nothing.
func authorization(t *testing.T, s *session, f, g *kargoapi.Freight) {
	s.note("bob holds the promote verb on uat alone (the seed's uat-promoter Role): approving takes the same right.")
	s.login("bob")
	r := s.run("kargo approve --freight jolly-narwhal --stage prod --project kargo-demo")
	require.Equal(t, cli.ExitError, r.code)
	require.Contains(t, r.stderr, `Error: user "bob" may not promote to Stage "prod" in project "kargo-demo": that needs the "promote" verb`)
	r = s.run("kargo approve --freight jolly-narwhal --stage uat --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	live := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(g), live))
	require.Contains(t, live.Status.ApprovedFor, "uat")
	require.NotContains(t, live.Status.ApprovedFor, "prod")

	s.note("Approved for uat, jolly-narwhal skips test: bob promotes it there.")
	r = s.run("kargo promote --freight jolly-narwhal --stage uat --project kargo-demo --wait --timeout 1m")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	checkProgress(t, r.stdout, firstLine(r.stdout))
	r = s.run("kargo promote --freight jolly-narwhal --stage prod --project kargo-demo")
	require.Equal(t, cli.ExitError, r.code)
	require.Contains(t, r.stderr, `may not promote to Stage "prod"`)

	s.note("nobody holds no role in kargo-demo: every change is refused.")
	s.login("nobody")
	stage := "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: qa\n  namespace: kargo-demo\n"
	require.NoError(t, os.WriteFile("stage.yaml", []byte(stage), 0o600))
	forbidden := regexp.MustCompile(`(?m)^Error: user "nobody" may not |^stage\.kargo\.akuity\.io/qa refused \(Forbidden\): user "nobody" may not `)
	for _, line := range []string{
		"kargo promote --freight " + f.Name + " --stage test --project kargo-demo",
		"kargo promote --freight-alias frozen-tauntaun --stage test --project kargo-demo",
		"kargo approve --freight " + f.Name + " --stage uat --project kargo-demo",
		"kargo update freight --project=kargo-demo --name=" + f.Name + " --new-alias=nobodys-pet",
		"kargo refresh warehouse kargo-demo --project kargo-demo",
		"kargo refresh stage test --project kargo-demo",
		"kargo verify stage test --project kargo-demo",
		"kargo verify stage test --project kargo-demo --abort",
		"kargo create -f stage.yaml",
		"kargo apply -f stage.yaml",
		"kargo delete -f stage.yaml",
	} {
		r := s.run(line)
		require.Equal(t, cli.ExitError, r.code, "%s: %s", line, r.stderr)
		require.Regexp(t, forbidden, r.stderr, line)
	}
	s.golden("authorization")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// checkProgress checks the progress lines transcripts leave out.
func checkProgress(t *testing.T, stdout, name string) {
	t.Helper()
	want := regexp.MustCompile(`^Promotion ` + regexp.QuoteMeta(name) + ` is (Pending|Running)(: .+)?$`)
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")[1:] {
		if strings.Contains(l, " is ") {
			require.Regexp(t, want, l)
		}
	}
}
