// Package ui tests kargo's web UI end to end: the built binary's `kargo
// local` with a three-Stage pipeline in kargo-demo, driven in headless
// Chromium by ui/e2e/pipeline.e2e.mjs (Playwright), and what that did checked
// in the cluster and the GitOps repository afterwards.
//
// The script's contract is its environment:
//
//	KARGO_UI_URL          the UI of the banner's "UI:" line, #token=<local admin token> included
//	KARGO_API_URL         kargo's API server
//	KARGO_PROJECT         kargo-demo
//	KARGO_FREIGHT_NAME    the one Freight the Warehouse produced (nginx:1.0.0) ...
//	KARGO_FREIGHT_ALIAS   ... and its alias
//	KARGO_BOB_TOKEN       a ServiceAccount token for bob: kargo-viewer, and promote on uat only
//	KARGO_CHROMIUM        the Chromium binary to launch
//	KARGO_SCREENSHOT_DIR  where to write screenshots (docs/ with KARGO_UPDATE_DOCS=1)
//
// It must promote the Freight into test, approve it for prod and rename it
// to ui-renamed through the UI, and exit non-zero on any failure.
// KARGO_UI_E2E_SCRIPT runs another script in its place.
package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kargolocal"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

const (
	project = "kargo-demo"
	// renamed is the alias the script gives the Freight.
	renamed = "ui-renamed"
	// scriptTimeout bounds the whole browser session.
	scriptTimeout = 5 * time.Minute
)

var (
	kargoBin string // the kargo binary built for these tests
	binDir   string // kube-apiserver, etcd, kubectl, kube-controller-manager
	root     string // the source tree
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ui: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	// The tests' clients log nothing; without a logger, controller-runtime
	// complains with a stack trace.
	ctrllog.SetLogger(logr.Discard())
	var err error
	if binDir, err = kubetest.BinDir(); err != nil {
		return 0, fmt.Errorf("Kubernetes binaries: %w (build them with `make kube-bins`)", err)
	}
	if root, err = kubetest.RepoRoot(); err != nil {
		return 0, err
	}
	bin, cleanup, err := kargolocal.Build(root)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	kargoBin = bin
	return m.Run(), nil
}

// The web UI as a user clicks through it: the pipeline of kargo-demo,
// promoting its Freight into test, approving it for prod and renaming it,
// while bob, who may promote only into uat, sees what he may do.
func TestPipelineInTheBrowser(t *testing.T) {
	chromium, script := prerequisites(t, "pipeline.e2e.mjs")

	dataDir := filepath.Join(t.TempDir(), "state")
	l := kargolocal.Start(t, kargolocal.Options{Bin: kargoBin, BinDir: binDir, DataDir: dataDir, Port: kargolocal.FreePort(t)})
	uiURL, err := l.UIURL()
	require.NoError(t, err)
	require.Contains(t, uiURL, "#token=", "the UI: line carries the local admin's token")
	apiURL, err := l.APIURL()
	require.NoError(t, err)
	c := adminClient(t, l)

	gs, freight := setUpPipeline(t, c)
	bobToken := bob(t, l, apiURL)

	screenshots := t.TempDir()
	if os.Getenv("KARGO_UPDATE_DOCS") == "1" {
		screenshots = filepath.Join(root, "docs")
	}
	runScript(t, script, []string{
		"KARGO_UI_URL=" + uiURL,
		"KARGO_API_URL=" + apiURL,
		"KARGO_PROJECT=" + project,
		"KARGO_BOB_TOKEN=" + bobToken,
		"KARGO_FREIGHT_ALIAS=" + freight.Alias,
		"KARGO_FREIGHT_NAME=" + freight.Name,
		"KARGO_CHROMIUM=" + chromium,
		"KARGO_SCREENSHOT_DIR=" + screenshots,
	})

	checkWhatTheUIDid(t, c, gs, freight.Name)
	l.Stop(t)
}

// prerequisites returns Chromium and the script to run, and fails the test
// with what to run when any is missing. It never skips: a UI that is not
// tested is not known to work.
func prerequisites(t testing.TB, defaultScript string) (chromium, script string) {
	t.Helper()
	var missing []string
	chromium = os.Getenv("KARGO_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, fmt.Sprintf("no Chromium at %s: run `make ui-deps` (it installs Debian's chromium package), or set KARGO_CHROMIUM", chromium))
	}
	if _, err := os.Stat(filepath.Join(root, "ui", "node_modules", "playwright-core")); err != nil {
		missing = append(missing, "no ui/node_modules/playwright-core: run `make ui-deps`")
	}
	script = filepath.Join(root, "ui", "e2e", defaultScript)
	if other := os.Getenv("KARGO_UI_E2E_SCRIPT"); other != "" && defaultScript == "pipeline.e2e.mjs" {
		script = other
	}
	if _, err := os.Stat(script); err != nil {
		missing = append(missing, fmt.Sprintf("no UI end-to-end script %s (KARGO_UI_E2E_SCRIPT names another)", script))
	}
	if len(missing) > 0 {
		t.Fatalf("the UI end-to-end test cannot run:\n  %s", strings.Join(missing, "\n  "))
	}
	return chromium, script
}

func adminClient(t testing.TB, l *kargolocal.Local) client.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig())
	require.NoError(t, err)
	cfg.QPS, cfg.Burst = 500, 1000 // the benchmark creates a thousand Freight
	s, err := scheme.New()
	require.NoError(t, err)
	c, err := client.New(cfg, client.Options{Scheme: s})
	require.NoError(t, err)
	return c
}

const kustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
images:
- name: %s
  newTag: 0.9.0
`

// setUpPipeline creates kargo-demo with a Warehouse on nginx in a registry
// and Stages test ← Warehouse, uat ← test, prod ← uat, each promoting by a
// commit to its stages/<name> branch of a GitOps repository, and no
// PromotionPolicy: nothing moves until the UI says so. It returns the
// GitOps repository's server and the Warehouse's one Freight.
func setUpPipeline(t *testing.T, c client.Client) (*gitserver.Server, *kargoapi.Freight) {
	t.Helper()
	ctx := context.Background()
	reg := registry.New(t, registry.Options{})
	reg.PushImage(t, "nginx", "1.0.0", registry.Image{})
	image := reg.Host() + "/nginx"
	gs := gitserver.New(t)
	gs.CreateRepo("gitops")
	files := map[string]string{"base/deployment.yaml": "kind: Deployment\n"}
	for _, stage := range []string{"test", "uat", "prod"} {
		files["stages/"+stage+"/kustomization.yaml"] = fmt.Sprintf(kustomization, image)
	}
	gs.Commit(t, "gitops", "main", files, "initial layout")

	require.NoError(t, c.Create(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: project}}))
	kubetest.Eventually(t, time.Minute, "Project "+project+" ready", func() (bool, string) {
		p := &kargoapi.Project{}
		if err := c.Get(ctx, client.ObjectKey{Name: project}, p); err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == kargoapi.ProjectPhaseReady, string(p.Status.Phase)
	})
	require.NoError(t, c.Create(ctx, &kargoapi.Warehouse{
		ObjectMeta: metav1.ObjectMeta{Name: project, Namespace: project},
		Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{
			Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(image), ImageSelectionStrategy: kargoapi.ImageSelectionSemVer}},
		}},
	}))
	for _, s := range []struct {
		name string
		subs kargoapi.Subscriptions
	}{
		{"test", kargoapi.Subscriptions{Warehouse: project}},
		{"uat", kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}}},
		{"prod", kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "uat"}}}},
	} {
		require.NoError(t, c.Create(ctx, &kargoapi.Stage{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: project},
			Spec: kargoapi.StageSpec{
				Subscriptions: &s.subs,
				PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
					RepoURL:     kargoapi.GitRepoURL(gs.RepoURL("gitops")),
					ReadBranch:  "main",
					WriteBranch: kargoapi.BranchName("stages/" + s.name),
					Kustomize: &kargoapi.KustomizePromotionMechanism{Images: []kargoapi.KustomizeImageUpdate{{
						Image: kargoapi.ImageRepoURL(image), Path: kargoapi.RepoPath("stages/" + s.name),
					}}},
				}}},
			},
		}))
	}

	var list kargoapi.FreightList
	kubetest.Eventually(t, time.Minute, "the Warehouse's Freight", func() (bool, string) {
		if err := c.List(ctx, &list, client.InNamespace(project)); err != nil {
			return false, err.Error()
		}
		return len(list.Items) > 0, "no Freight"
	})
	require.Len(t, list.Items, 1, "one image, one Freight")
	freight := &list.Items[0]
	require.NotEmpty(t, freight.Alias)
	return gs, freight
}

// bob creates the ServiceAccount bob in kargo-demo with the seed's rights
// for the user bob (kargo-viewer, and promote on uat only) and returns a
// token for it, checked against the API server.
func bob(t *testing.T, l *kargolocal.Local, apiURL string) string {
	t.Helper()
	out, err := l.Kubectl(t, `
apiVersion: v1
kind: ServiceAccount
metadata: {name: bob, namespace: kargo-demo}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-viewer, namespace: kargo-demo}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kargo-viewer}
subjects: [{kind: ServiceAccount, name: bob, namespace: kargo-demo}]
---
# config/samples/seeds/concepts-08-role-and-rolebinding-bob-uat-promoter.yaml,
# bound to the ServiceAccount rather than the user.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: uat-promoter, namespace: kargo-demo}
rules:
- apiGroups: [kargo.akuity.io]
  resources: [promotions]
  verbs: [create, delete, get, list, patch, update, watch]
- apiGroups: [kargo.akuity.io]
  resources: [stages]
  resourceNames: [uat]
  verbs: [promote]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-uat-promoter, namespace: kargo-demo}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: uat-promoter}
subjects: [{kind: ServiceAccount, name: bob, namespace: kargo-demo}]
`, "apply", "-f", "-")
	require.NoError(t, err, out)
	out, err = l.Kubectl(t, "", "create", "token", "bob", "-n", project, "--duration=1h")
	require.NoError(t, err, out)
	token := strings.TrimSpace(out)

	// A token the API server refused would fail the script in a way that
	// says little; refuse it here instead.
	req, err := http.NewRequest(http.MethodGet, apiURL+"/api/v1/whoami", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "whoami as bob")
	var who apitypes.WhoAmI
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&who))
	require.Equal(t, "system:serviceaccount:kargo-demo:bob", who.Username)
	return token
}

// runScript runs script with node in ui/, its output streamed into the test
// log, and fails the test with that output unless it exits 0 within
// scriptTimeout.
func runScript(t testing.TB, script string, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = filepath.Join(root, "ui")
	cmd.Env = append(os.Environ(), env...)
	// Its own process group, so that a timeout also ends the Chromium it
	// started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out := &lineLogger{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	started := time.Now()
	err := cmd.Run()
	out.flush()
	if ctx.Err() != nil {
		t.Fatalf("node %s: not done after %s:\n%s", script, scriptTimeout, out.String())
	}
	if err != nil {
		t.Fatalf("node %s: %v:\n%s", script, err, out.String())
	}
	t.Logf("node %s passed in %s", filepath.Base(script), time.Since(started).Round(100*time.Millisecond))
	return out.String()
}

// ansiColor matches the terminal colour codes Playwright puts in its call
// logs even when writing to a pipe.
var ansiColor = regexp.MustCompile("\x1b\\[[0-9;]*m")

// lineLogger logs each line written to it and keeps all of it, without
// colour codes.
type lineLogger struct {
	t       testing.TB
	mu      sync.Mutex
	all     strings.Builder
	partial string
}

func (w *lineLogger) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(b)
	w.partial += string(b)
	for {
		line, rest, ok := strings.Cut(w.partial, "\n")
		if !ok {
			break
		}
		w.t.Log("script: " + ansiColor.ReplaceAllString(line, ""))
		w.partial = rest
	}
	return len(b), nil
}

func (w *lineLogger) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.partial != "" {
		w.t.Log("script: " + ansiColor.ReplaceAllString(w.partial, ""))
		w.partial = ""
	}
}

func (w *lineLogger) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return ansiColor.ReplaceAllString(w.all.String(), "")
}

// checkWhatTheUIDid checks that what the script clicked happened: the
// Freight is in test, committed to the stages/test branch, approved for
// prod and renamed.
func checkWhatTheUIDid(t *testing.T, c client.Client, gs *gitserver.Server, name string) {
	t.Helper()
	ctx := context.Background()
	// The script may end as soon as the UI shows the Promotion; give the
	// controllers time to finish it.
	kubetest.Eventually(t, time.Minute, "Freight "+name+" in Stage test", func() (bool, string) {
		st := &kargoapi.Stage{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: project, Name: "test"}, st); err != nil {
			return false, err.Error()
		}
		return st.Status.CurrentFreight != nil && st.Status.CurrentFreight.ID == name, fmt.Sprintf("%+v", st.Status.CurrentFreight)
	})
	require.Contains(t, gs.Show(t, "gitops", "stages/test", "stages/test/kustomization.yaml"), "newTag: 1.0.0")
	f := &kargoapi.Freight{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: project, Name: name}, f))
	require.Contains(t, f.Status.ApprovedFor, "prod", "approved for prod")
	require.Equal(t, renamed, f.Alias)
}
