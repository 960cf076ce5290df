// Package e2e runs the built kargo binary as a user would.
package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

var (
	kargoBin string // the kargo binary built for these tests
	binDir   string // kube-apiserver, etcd, kubectl, kube-controller-manager
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	var err error
	if binDir, err = kubetest.BinDir(); err != nil {
		return 0, fmt.Errorf("Kubernetes binaries: %w (build them with `make kube-bins`)", err)
	}
	root, err := kubetest.RepoRoot()
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "kargo-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	kargoBin = filepath.Join(tmp, "kargo")
	build := exec.Command("go", "build", "-o", kargoBin, "./cmd/kargo")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build kargo: %w\n%s", err, out)
	}
	return m.Run(), nil
}

// local is one running `kargo local`.
type local struct {
	cmd     *exec.Cmd
	dataDir string
	// cliConfig is the kargo CLI's config file, which kargo local logs in.
	cliConfig string
	mu        sync.Mutex
	out       strings.Builder
	exited    chan error
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startLocal starts `kargo local` and waits until it has printed its whole
// "is running" banner.
func startLocal(t *testing.T, dataDir string, port int) *local {
	t.Helper()
	l := &local{dataDir: dataDir, exited: make(chan error, 1), cliConfig: filepath.Join(filepath.Dir(dataDir), "kargo-cli.yaml")}
	l.cmd = exec.Command(kargoBin, "local", "--data-dir", dataDir, "--bin-dir", binDir, "--port", fmt.Sprint(port),
		"--api-addr", fmt.Sprintf("127.0.0.1:%d", port+1))
	l.cmd.Env = append(os.Environ(), "KARGO_CONFIG="+l.cliConfig)
	stdout, err := l.cmd.StdoutPipe()
	require.NoError(t, err)
	l.cmd.Stderr = &lockedWriter{l: l}
	require.NoError(t, l.cmd.Start())
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			l.mu.Lock()
			l.out.WriteString(line + "\n")
			l.mu.Unlock()
			// The banner's last line: everything above it has been read.
			if strings.HasPrefix(line, "Press Ctrl-C to stop") {
				close(ready)
			}
		}
		l.exited <- l.cmd.Wait()
	}()
	t.Cleanup(func() {
		if l.cmd.ProcessState == nil {
			_ = l.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-l.exited:
			case <-time.After(time.Minute):
				_ = l.cmd.Process.Kill()
			}
		}
	})
	select {
	case <-ready:
	case err := <-l.exited:
		t.Fatalf("kargo local exited before it was ready: %v\n%s", err, l.output())
	case <-time.After(3 * time.Minute):
		t.Fatalf("kargo local not ready after 3 minutes:\n%s", l.output())
	}
	return l
}

type lockedWriter struct{ l *local }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.out.Write(b)
}

func (l *local) output() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.String()
}

// stop sends Ctrl-C and waits for a clean exit.
func (l *local) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, l.cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-l.exited:
		require.NoError(t, err, "kargo local did not exit cleanly:\n%s", l.output())
	case <-time.After(time.Minute):
		t.Fatalf("kargo local did not stop within a minute of Ctrl-C:\n%s", l.output())
	}
	require.Contains(t, l.output(), "stopped; state kept in "+l.dataDir)
}

// kargo runs the kargo CLI as a user would after kargo local logged it in.
func (l *local) kargo(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(kargoBin, args...)
	cmd.Env = append(os.Environ(), "KARGO_CONFIG="+l.cliConfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (l *local) kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "kubectl"), append([]string{"--kubeconfig", filepath.Join(l.dataDir, "kubeconfig")}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The foundation's promise: with kargo local up and the kargo-demo Project
// created, the seed manifests apply with kubectl, invalid objects are
// refused, and a restart keeps everything.
func TestLocalRunsAndKeepsState(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "state")
	port := freePort(t)
	l := startLocal(t, dataDir, port)
	require.Contains(t, l.output(), "export KUBECONFIG="+filepath.Join(dataDir, "kubeconfig"))

	// kargo's resources live in projects: outside one they are refused.
	out, err := l.kubectl(t, "", "create", "namespace", "plain")
	require.NoError(t, err, out)
	out, err = l.kubectl(t, "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: test, namespace: plain}\n", "apply", "-f", "-")
	require.Error(t, err)
	require.Contains(t, out, `namespace "plain" is not a Kargo project`)

	out, err = l.kubectl(t, "apiVersion: kargo.akuity.io/v1alpha1\nkind: Project\nmetadata: {name: kargo-demo}\n", "apply", "-f", "-")
	require.NoError(t, err, out)
	out, err = l.kubectl(t, "", "wait", "--for=jsonpath={.status.phase}=Ready", "project/kargo-demo", "--timeout=60s")
	require.NoError(t, err, out)
	root, err := kubetest.RepoRoot()
	require.NoError(t, err)
	seeds, err := filepath.Glob(filepath.Join(root, "config", "samples", "seeds", "*.yaml"))
	require.NoError(t, err)
	for _, f := range seeds {
		if strings.Contains(f, "clusterrole-kargo-promoter") {
			continue // an excerpt of the pre-defined role, checked below
		}
		out, err := l.kubectl(t, "", "apply", "-f", f)
		require.NoError(t, err, "%s: %s", filepath.Base(f), out)
	}
	out, err = l.kubectl(t, "", "get", "clusterrole", "kargo-promoter", "-o", "jsonpath={.rules[*].verbs}")
	require.NoError(t, err, out)
	require.Contains(t, out, "promote")

	out, err = l.kubectl(t, `
apiVersion: kargo.akuity.io/v1alpha1
kind: Promotion
metadata: {name: bad, namespace: kargo-demo}
spec: {freight: 404df86560cab5d515e7aa74653e665c1dc96e1c}
`, "apply", "-f", "-")
	require.Error(t, err)
	require.Contains(t, out, "spec.stage: Required value")

	out, err = l.kubectl(t, "", "get", "freight", "--namespace", "kargo-demo")
	require.NoError(t, err, out)
	require.Contains(t, out, "No resources found")

	// The kargo CLI, logged in by kargo local, sees the same Stages.
	out, err = l.kargo(t, "get", "stages", "--project", "kargo-demo")
	require.NoError(t, err, out)
	require.Regexp(t, `(?m)^NAME\s+CURRENT FREIGHT\s+HEALTH\s+PHASE\s+AGE$`, out)
	require.Regexp(t, `(?m)^test\s`, out)

	// A second instance on the same data dir or port is refused clearly.
	second := exec.Command(kargoBin, "local", "--data-dir", dataDir, "--bin-dir", binDir, "--port", fmt.Sprint(freePort(t)))
	msg, err := second.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(msg), dataDir)
	other := exec.Command(kargoBin, "local", "--data-dir", t.TempDir(), "--bin-dir", binDir, "--port", fmt.Sprint(port))
	msg, err = other.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(msg), fmt.Sprintf("port %d on 127.0.0.1 is in use", port))

	l.stop(t)

	l = startLocal(t, dataDir, port)
	out, err = l.kubectl(t, "", "get", "stages,promotions,promotionpolicies", "--namespace", "kargo-demo", "-o", "name")
	require.NoError(t, err, out)
	require.Equal(t, strings.Join([]string{
		"stage.kargo.akuity.io/test",
		"promotion.kargo.akuity.io/test-to-404df86560cab5d515e7aa74653e665c1dc96e1c",
		"promotionpolicy.kargo.akuity.io/test",
	}, "\n"), strings.TrimSpace(out))
	// The local API token survives the restart: the CLI stays logged in.
	out, err = l.kargo(t, "get", "promotions", "--project", "kargo-demo", "-o", "name")
	require.NoError(t, err, out)
	require.Contains(t, out, "test-to-404df86560cab5d515e7aa74653e665c1dc96e1c")
	l.stop(t)
}

// Without the Kubernetes binaries, kargo local says how to get them.
func TestLocalWithoutBinaries(t *testing.T) {
	cmd := exec.Command(kargoBin, "local", "--data-dir", t.TempDir(), "--bin-dir", t.TempDir(), "--port", fmt.Sprint(freePort(t)))
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "make kube-bins")
}

// A busy API address is refused at once, saying which flag changes it.
func TestLocalAPIAddressInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	cmd := exec.Command(kargoBin, "local", "--data-dir", t.TempDir(), "--bin-dir", binDir, "--port", fmt.Sprint(freePort(t)),
		"--api-addr", busy.Addr().String())
	cmd.Env = append(os.Environ(), "KARGO_CONFIG="+filepath.Join(t.TempDir(), "cli.yaml"))
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	// Only the listen failure names the flag; waiting out the readiness
	// timeout would say "not ready after a minute" instead.
	require.Contains(t, string(out), "--api-addr", "%s", out)
	require.Contains(t, string(out), "address already in use", "%s", out)
}
