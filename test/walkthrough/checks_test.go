package walkthrough

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/demo"
)

// checker holds, in the README's order, each walkthrough command and what
// it must show, and what the commands revealed for later ones (aliases).
type checker struct {
	t       *testing.T
	dataDir string
	next    int
	steps   []check

	newAlias, newName       string
	hotfixAlias, hotfixName string
}

type check struct {
	command string
	verify  func(s step)
}

// argoHealth is the health Argo CD's Applications give a Stage whose
// Freight is verified: Healthy, or Progressing for the moment after a sync
// when Argo CD's cache has not seen the resources yet (internal/argocd).
const argoHealth = `(Healthy|Progressing)`

var madeFreight = regexp.MustCompile(`Warehouse kargo-demo made Freight ([a-z0-9-]+) \(([0-9a-f]{40})\)`)

func newChecker(t *testing.T, dataDir string) *checker {
	c := &checker{t: t, dataDir: dataDir}
	ok := func(s step) { require.Zero(t, s.exit, "%s:\n%s", s.command, s.output) }
	c.steps = []check{
		{"export PATH=$PWD/bin:$PATH", ok},
		{"kargo get freight --project kargo-demo", func(s step) {
			ok(s)
			require.Regexp(t, `(?m)^NAME\s+ALIAS\s+AGE\n[0-9a-f]{40}\s+[a-z]+-[a-z]+\s+\S+\n$`, s.output, "one Freight, found at the first start")
		}},
		{"kargo get stages --project kargo-demo", func(s step) {
			ok(s)
			require.Regexp(t, `(?m)^test\s+[a-z]+-[a-z]+\s+`+argoHealth+`\s+Steady`, s.output, "the first Freight was auto-promoted into test, and Argo CD reports it Healthy")
			require.Regexp(t, `(?m)^uat\s+Unknown\s+NotApplicable`, s.output, "nothing in uat yet, and no health to report")
		}},
		{"kargo local demo publish 1.27.0", func(s step) {
			ok(s)
			require.Contains(t, s.output, "/nginx:1.27.0 (sha256:")
			m := madeFreight.FindStringSubmatch(s.output)
			require.NotNil(t, m, s.output)
			c.newAlias, c.newName = m[1], m[2]
			require.Contains(t, s.output, "Auto-promoted into test")
			require.Contains(t, s.output, "Verified in test (health Healthy)")
			require.Equal(t, c.newName, c.stageStatus("test", "{.status.currentFreight.id}"))
		}},
		{"NEW=$(kargo get freight --project kargo-demo -o jsonpath={.alias} | head -n 1)", ok},
		{"kargo get stages --project kargo-demo", func(s step) {
			ok(s)
			require.Regexp(t, `(?m)^test\s+`+c.newAlias+`\s+`+argoHealth+`\s+Steady`, s.output)
		}},
		{"kargo promote --project kargo-demo --freight $NEW --stage uat --verified", func(s step) {
			ok(s)
			require.Contains(t, s.output, "Succeeded: Promoted Freight "+c.newAlias)
			require.Contains(t, s.output, "stages/uat")
			require.Contains(t, s.output, "updated Application argocd/kargo-demo-uat")
			require.Contains(t, s.output, "Verified in uat: health Healthy")
			c.requireTag("uat", "1.27.0")
			require.Equal(t, c.newName, c.stageStatus("uat", "{.status.currentFreight.id}"))
		}},
		{"kargo get stages --project kargo-demo", func(s step) {
			ok(s)
			require.Regexp(t, `(?m)^uat\s+`+c.newAlias+`\s+`+argoHealth+`\s+Steady`, s.output, "Argo CD reports uat Healthy at the promoted commit")
		}},
		{"kargo local demo publish 1.27.1", func(s step) {
			ok(s)
			m := madeFreight.FindStringSubmatch(s.output)
			require.NotNil(t, m, s.output)
			c.hotfixAlias, c.hotfixName = m[1], m[2]
			require.Contains(t, s.output, "Auto-promoted into test")
		}},
		{"HOTFIX=$(kargo get freight --project kargo-demo -o jsonpath={.alias} | head -n 1)", ok},
		{"kargo approve --project kargo-demo --freight $HOTFIX --stage prod", func(s step) {
			ok(s)
			require.Contains(t, s.output, "("+c.hotfixAlias+") approved for Stage prod")
		}},
		{"kargo promote --project kargo-demo --freight $HOTFIX --stage prod --verified", func(s step) {
			ok(s)
			require.Contains(t, s.output, "Succeeded: Promoted Freight "+c.hotfixAlias)
			require.Contains(t, s.output, "Verified in prod: health Healthy")
			c.requireTag("prod", "1.27.1")
			c.requireTag("uat", "1.27.0") // prod was reached without uat
		}},
		{"kargo update freight --project kargo-demo --old-alias $HOTFIX --new-alias hotfix", func(s step) {
			ok(s)
			require.Contains(t, s.output, "is now aliased hotfix (was "+c.hotfixAlias+")")
		}},
		{"kargo get stages --project kargo-demo", func(s step) {
			ok(s)
			require.Regexp(t, `(?m)^prod\s+hotfix\s+`+argoHealth+`\s+Steady`, s.output, "the renamed alias shows in the Stages")
			require.Regexp(t, `(?m)^test\s+hotfix\s+`+argoHealth+`\s+Steady`, s.output)
			require.Regexp(t, `(?m)^uat\s+`+c.newAlias+`\s+`+argoHealth+`\s+Steady`, s.output)
		}},
		{`BOB="--config $HOME/.local/state/kargo/local/kargo-bob.yaml"`, ok},
		{"kargo $BOB promote --project kargo-demo --freight hotfix --stage prod", func(s step) {
			require.Equal(t, 1, s.exit, "bob may not promote into prod:\n%s", s.output)
			require.Contains(t, s.output, `user "bob" may not promote to Stage "prod" in project "kargo-demo"`)
			require.Contains(t, s.output, `the "promote" verb on stages.kargo.akuity.io "prod"`)
		}},
		{"kargo $BOB promote --project kargo-demo --freight hotfix --stage uat --wait", func(s step) {
			ok(s)
			require.Contains(t, s.output, "Succeeded: Promoted Freight hotfix")
			c.requireTag("uat", "1.27.1")
			require.Equal(t, c.hotfixName, c.stageStatus("uat", "{.status.currentFreight.id}"))
		}},
		{"kargo apply -f docs/examples/prod-approval.yaml", func(s step) {
			ok(s)
			require.Contains(t, s.output, "approvalpolicy.kargo.akuity.io/prod-needs-approval")
		}},
		{`ALICE="--config $HOME/.local/state/kargo/local/kargo-alice.yaml"`, ok},
		{"ROLLBACK=$(kargo $ALICE promote --project kargo-demo --freight $NEW --stage prod)", ok},
		{"kargo promote --project kargo-demo --follow $ROLLBACK --timeout 5s", func(s step) {
			require.Equal(t, 1, s.exit, "the Promotion waits for an approval:\n%s", s.output)
			require.Contains(t, s.output, "is Pending: Waiting for approval: 1 more approval from anyone with the approve verb on the Stage (ApprovalPolicy prod-needs-approval asks for 1, each counting for 24h0m0s); alice's own approval does not count")
			require.Contains(t, s.output, "still not done after --timeout 5s")
			c.requireTag("prod", "1.27.1") // nothing moved
		}},
		{`kargo approve --project kargo-demo --freight $NEW --stage prod --comment "roll back to 1.27.0, agreed with on-call"`, func(s step) {
			ok(s)
			require.Contains(t, s.output, "("+c.newAlias+") approved for Stage prod (approvals: kargo-local-admin)")
		}},
		{"kargo promote --project kargo-demo --follow $ROLLBACK --verified", func(s step) {
			ok(s)
			require.Contains(t, s.output, "Succeeded: Promoted Freight "+c.newAlias)
			require.Contains(t, s.output, "Verified in prod: health Healthy")
			c.requireTag("prod", "1.27.0")
		}},
		{"kargo get audit --project kargo-demo --stage prod", func(s step) {
			ok(s)
			require.Regexp(t, `(?m)^approve\s+Freight/\S+\s+prod\s+kargo-local-admin\s+Succeeded`, s.output)
		}},
	}
	return c
}

func (c *checker) check(s step) {
	c.t.Helper()
	require.Less(c.t, c.next, len(c.steps), "the README's walkthrough has a command this test does not check: %q; add a check in test/walkthrough/checks_test.go", s.command)
	want := c.steps[c.next]
	require.Equal(c.t, want.command, s.command, "walkthrough command %d differs between README.md and test/walkthrough/checks_test.go", c.next+1)
	c.next++
	want.verify(s)
}

func (c *checker) done() {
	c.t.Helper()
	require.Equal(c.t, len(c.steps), c.next, "test/walkthrough checks commands the README no longer has, from %q", c.steps[min(c.next, len(c.steps)-1)].command)
}

func (c *checker) kubectl(args ...string) string {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "kubectl"), append([]string{"--kubeconfig", filepath.Join(c.dataDir, "kubeconfig")}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(c.t, err, "kubectl %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

func (c *checker) stageStatus(stage, jsonpath string) string {
	return c.kubectl("get", "stage", stage, "-n", demo.Project, "-o", "jsonpath="+jsonpath)
}

// requireTag checks the stages/<stage> branch of the demo GitOps
// repository: its overlay and Helm values name tag.
func (c *checker) requireTag(stage, tag string) {
	c.t.Helper()
	gitDir := filepath.Join(c.dataDir, "demo", "git", demo.GitOpsRepo+".git")
	show := func(path string) string {
		out, err := exec.Command("git", "--git-dir", gitDir, "show", "stages/"+stage+":"+path).CombinedOutput()
		require.NoError(c.t, err, "git show stages/%s:%s: %s", stage, path, out)
		return string(out)
	}
	require.Contains(c.t, show("stages/"+stage+"/kustomization.yaml"), "newTag: "+tag, "the kustomize overlay of %s", stage)
	require.Regexp(c.t, `(?m)^\s+tag: "?`+regexp.QuoteMeta(tag)+`"?$`, show("stages/"+stage+"/values.yaml"), "the Helm values of %s", stage)
}
