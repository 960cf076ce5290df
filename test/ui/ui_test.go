// Package ui tests kargo's web UI end to end: the built binary's `kargo
// local --demo`, driven in headless Chromium by ui/e2e/pipeline.e2e.mjs
// (Playwright), and what that did checked in the cluster and the demo's
// GitOps repository afterwards.
//
// The script's contract is its environment:
//
//	KARGO_UI_URL          the UI of the banner's "UI:" line, #token=<local admin token> included
//	KARGO_API_URL         kargo's API server
//	KARGO_PROJECT         kargo-demo
//	KARGO_FREIGHT_NAME    the demo's first Freight (nginx:1.26.0), in test ...
//	KARGO_FREIGHT_ALIAS   ... and its alias
//	KARGO_BOB_TOKEN       the demo's token for bob: kargo-viewer, and promote on uat only
//	KARGO_CHROMIUM        the Chromium binary to launch
//	KARGO_SCREENSHOT_DIR  where to write screenshots (docs/ with KARGO_UPDATE_DOCS=1)
//
// It must promote the Freight into uat, approve it for prod and rename it
// to ui-renamed through the UI, and exit non-zero on any failure.
// KARGO_UI_E2E_SCRIPT runs another script in its place.
package ui

import (
	"context"
	"fmt"
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
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/demo"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/testutil/kargolocal"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
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

// The web UI as a user clicks through it: the sign-in link opening
// kargo-demo, promoting its first Freight from test into uat, approving it
// for prod and uat (the chips in pipeline order) and renaming it; a refused
// token sending the user to sign in again; and bob, who may promote only
// into uat, seeing only that offered, the rest disabled with the reason.
func TestPipelineInTheBrowser(t *testing.T) {
	chromium, script := prerequisites(t, "pipeline.e2e.mjs")

	dataDir := filepath.Join(t.TempDir(), "state")
	l := kargolocal.Start(t, kargolocal.Options{Bin: kargoBin, BinDir: binDir, DataDir: dataDir, Port: kargolocal.FreePort(t), Args: []string{"--demo"}})
	uiURL, err := l.UIURL()
	require.NoError(t, err)
	require.Contains(t, uiURL, "#token=", "the UI: line carries the local admin's token")
	apiURL, err := l.APIURL()
	require.NoError(t, err)
	c := adminClient(t, l)

	freight := demoFreight(t, c)
	bobToken, err := os.ReadFile(filepath.Join(dataDir, "users", "bob.token"))
	require.NoError(t, err, "kargo local --demo gives bob a token")

	screenshots := t.TempDir()
	if os.Getenv("KARGO_UPDATE_DOCS") == "1" {
		screenshots = filepath.Join(root, "docs")
	}
	runScript(t, script, []string{
		"KARGO_UI_URL=" + uiURL,
		"KARGO_API_URL=" + apiURL,
		"KARGO_PROJECT=" + project,
		"KARGO_BOB_TOKEN=" + strings.TrimSpace(string(bobToken)),
		"KARGO_FREIGHT_ALIAS=" + freight.Alias,
		"KARGO_FREIGHT_NAME=" + freight.Name,
		"KARGO_CHROMIUM=" + chromium,
		"KARGO_SCREENSHOT_DIR=" + screenshots,
	})

	checkWhatTheUIDid(t, c, dataDir, freight.Name)
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

// demoFreight returns the demo's one Freight, which its PromotionPolicy
// brought into test before kargo local said it was running.
func demoFreight(t *testing.T, c client.Client) *kargoapi.Freight {
	t.Helper()
	var list kargoapi.FreightList
	require.NoError(t, c.List(context.Background(), &list, client.InNamespace(project)))
	require.Len(t, list.Items, 1, "the demo starts with one Freight")
	require.NotEmpty(t, list.Items[0].Alias)
	return &list.Items[0]
}

// runScript runs script with node in ui/, its output streamed into the test
// log, and fails the test with that output unless it exits 0 within
// scriptTimeout.
func runScript(t testing.TB, script string, env []string) string {
	t.Helper()
	return runScriptWithin(t, scriptTimeout, script, env)
}

// runScriptWithin is runScript with another bound on the script's time.
func runScriptWithin(t testing.TB, scriptTimeout time.Duration, script string, env []string) string {
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
// Freight is in uat, committed to the stages/uat branch of the demo's
// GitOps repository, approved for prod and renamed.
func checkWhatTheUIDid(t *testing.T, c client.Client, dataDir, name string) {
	t.Helper()
	ctx := context.Background()
	// The script may end as soon as the UI shows the Promotion; give the
	// controllers time to finish it.
	kubetest.Eventually(t, time.Minute, "Freight "+name+" in Stage uat", func() (bool, string) {
		st := &kargoapi.Stage{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: project, Name: "uat"}, st); err != nil {
			return false, err.Error()
		}
		return st.Status.CurrentFreight != nil && st.Status.CurrentFreight.ID == name, fmt.Sprintf("%+v", st.Status.CurrentFreight)
	})
	gitDir := filepath.Join(dataDir, "demo", "git", demo.GitOpsRepo+".git")
	out, err := exec.Command("git", "--git-dir", gitDir, "show", "stages/uat:stages/uat/kustomization.yaml").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "newTag: "+demo.InitialTags[len(demo.InitialTags)-1])
	f := &kargoapi.Freight{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: project, Name: name}, f))
	require.Contains(t, f.Status.ApprovedFor, "prod", "approved for prod")
	require.Equal(t, renamed, f.Alias)
}
