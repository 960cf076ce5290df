package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/cli"
)

// mistypedProject runs commands in a project that does not exist, as
// someone who mistyped kargo-demo would: an error naming it, with the
// projects the caller may list, or, for a caller whose rights are in
// kargo-demo alone, the refusal naming it (whether it exists is not theirs
// to know).
func mistypedProject(t *testing.T, s *session) {
	s.note("A mistyped project is an error that names it, and the projects the caller may list.")
	s.login("admin")
	for _, line := range []string{
		"kargo get stages --project kargo-dmeo",
		"kargo promote --project kargo-dmeo --freight frozen-tauntaun --stage uat",
		"kargo config set-project kargo-dmeo",
	} {
		r := s.run(line)
		require.Equal(t, cli.ExitError, r.code, "%s: %s", line, r.stderr)
		require.Equal(t, "Error: project \"kargo-dmeo\" not found; the projects are kargo-demo\n", r.stderr, line)
	}
	s.note("alice's rights are in kargo-demo alone: she is refused in any other project, which is named, and learns no project's name.")
	s.login("alice")
	for _, line := range []string{
		"kargo get stages --project kargo-dmeo",
		"kargo promote --project kargo-dmeo --freight frozen-tauntaun --stage uat",
	} {
		r := s.run(line)
		require.Equal(t, cli.ExitError, r.code, "%s: %s", line, r.stderr)
		require.Contains(t, r.stderr, `in project "kargo-dmeo"`, line)
		require.NotContains(t, r.stderr, "kargo-demo", line)
	}
	s.golden("mistyped_project")
}

// serverDown runs commands when the API server the CLI is configured for
// does not answer: the error names the server and the config that names
// it, and what starts one.
func serverDown(t *testing.T, s *session) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	config := os.Getenv("KARGO_CONFIG")
	s.masks = append(s.masks, [2]string{down, "http://127.0.0.1:<port>"}, [2]string{config, "$KARGO_CONFIG"})
	s.note("The CLI's config names an API server that is not running (kargo local stopped, say).")
	require.NoError(t, os.WriteFile(config, []byte("server: "+down+"\ntoken: x\nproject: kargo-demo\n"), 0o600))
	for _, line := range []string{
		"kargo get stages",
		"kargo login " + down + " --token-file alice.token",
	} {
		r := s.run(line)
		require.Equal(t, cli.ExitError, r.code, "%s: %s", line, r.stderr)
		require.Contains(t, r.stderr, "cannot reach the kargo API server at "+down, line)
		require.Contains(t, r.stderr, "`make run`", line)
	}
	s.golden("server_down")
	s.login("alice")
}

// refusals changes the seed's and the README's objects as a newcomer might
// get them wrong, and sends them: each refusal is a sentence that says what
// to change, without a regular expression to decode or Kubernetes' note
// about rules it did not check.
func refusals(t *testing.T, s *session) {
	seed := func(file string) string {
		b, err := os.ReadFile(filepath.Join(testdata, "..", "..", "..", "config", "samples", "seeds", file))
		require.NoError(t, err)
		return strings.Replace(string(b), "name: test\n", "name: refused\n", 1)
	}
	pipeline := "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: refused\n  namespace: kargo-demo\nspec:\n  interval: 10s\n" +
		"  subscriptions:\n    images:\n    - repoURL: 127.0.0.1:5000/nginx\n      semverConstraint: ^1.24.0\n"
	stage := "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: refused\n  namespace: kargo-demo\nspec:\n  subscriptions:\n"
	for _, tc := range []struct {
		file, manifest, from, to, want string
	}{
		{"stage-warehouse.yaml", stage + "    warehouse: Kargo_Demo\n", "", "", "warehouse must be the name of a Warehouse of the project"},
		{"stage-upstream.yaml", stage + "    upstreamStages:\n    - name: UAT\n", "", "", "name must be the name of a Stage of the project"},
		{"stage-app-namespace.yaml", seed("concepts-03-stage-promotion-mechanisms.yaml"), "appNamespace: argocd", "appNamespace: Argo_CD", "appNamespace must be a namespace's name"},
		{"stage-semver.yaml", seed("concepts-01-stage-subscriptions.yaml"), "^1.24.0", "newest", "semverConstraint must be a semantic version range"},
		{"promotion.yaml", seed("concepts-05-promotion.yaml"), "stage: test", "stage: Test", "stage must be the name of a Stage of the project"},
		{"policy.yaml", seed("concepts-09-promotionpolicy-test.yaml"), "stage: test", "stage: Test", "stage must be the name of a Stage of the project"},
		{"warehouse-interval.yaml", pipeline, "interval: 10s", "interval: 10 seconds", "interval must be a duration of at least 10s"},
		{"warehouse-fast.yaml", pipeline, "interval: 10s", "interval: 1s", "interval must be a duration of at least 10s"},
		{"warehouse-strategy.yaml", pipeline, "semverConstraint: ^1.24.0", "imageSelectionStrategy: Newest", `supported values: "SemVer", "NewestBuild", "Lexical", "Digest"`},
		{"promotion-without-stage.yaml", seed("concepts-05-promotion.yaml"), "  stage: test\n", "", "spec.stage: Required value"},
	} {
		manifest := tc.manifest
		if tc.from != "" {
			require.Contains(t, manifest, tc.from, tc.file)
			manifest = strings.Replace(manifest, tc.from, tc.to, 1)
		}
		require.NoError(t, os.WriteFile(tc.file, []byte(manifest), 0o600))
	}
	bad, err := yaml.Marshal(demoFreight("1.27.2", "Jolly_Narwhal"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile("freight-alias.yaml", bad, 0o600))
	s.note("Objects of the seed pages and the README, gotten wrong: each refusal says what to change.")
	s.login("adam")
	for _, tc := range []struct{ line, want string }{
		{"kargo update freight --project kargo-demo --old-alias frozen-tauntaun --new-alias Frozen_Tauntaun", "an alias is at most 63 lowercase letters, digits and '-'"},
		{"kargo update freight --project kargo-demo --old-alias frozen-tauntaun --new-alias " + strings.Repeat("a", 64), "an alias is at most 63 lowercase letters"},
		{"kargo create -f freight-alias.yaml", `alias "Jolly_Narwhal" is not valid: an alias is at most 63 lowercase letters`},
		{"kargo apply -f stage-warehouse.yaml", "warehouse must be the name of a Warehouse of the project"},
		{"kargo apply -f stage-upstream.yaml", "name must be the name of a Stage of the project"},
		{"kargo apply -f stage-app-namespace.yaml", "appNamespace must be a namespace's name"},
		{"kargo apply -f stage-semver.yaml", "semverConstraint must be a semantic version range"},
		{"kargo apply -f promotion.yaml", "stage must be the name of a Stage of the project"},
		{"kargo apply -f policy.yaml", "stage must be the name of a Stage of the project"},
		{"kargo apply -f warehouse-interval.yaml", "interval must be a duration of at least 10s"},
		{"kargo apply -f warehouse-fast.yaml", "interval must be a duration of at least 10s"},
		{"kargo apply -f warehouse-strategy.yaml", `supported values: "SemVer", "NewestBuild", "Lexical", "Digest"`},
		{"kargo apply -f promotion-without-stage.yaml", "spec.stage: Required value"},
	} {
		r := s.run(tc.line)
		require.Equal(t, cli.ExitError, r.code, "%s: %s", tc.line, r.stderr)
		require.Contains(t, r.stderr, tc.want, tc.line)
		for _, noise := range []string{"should match", "regex", "<nil>", "validation rules were not checked", "^[a-z0-9]"} {
			require.NotContains(t, r.stderr, noise, tc.line)
		}
	}
	live := &kargoapi.FreightList{}
	require.NoError(t, env.Admin.List(context.Background(), live, client.InNamespace(demo), client.MatchingLabels{kargoapi.AliasLabelKey: "frozen-tauntaun"}))
	require.Len(t, live.Items, 1, "the alias did not change")
	s.golden("refusals")
}
