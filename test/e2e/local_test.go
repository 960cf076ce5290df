// Package e2e runs the built kargo binary as a user would.
package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/testutil/kargolocal"
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
	bin, cleanup, err := kargolocal.Build(root)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	kargoBin = bin
	return m.Run(), nil
}

func startLocal(t *testing.T, dataDir string, port, apiPort int) *kargolocal.Local {
	t.Helper()
	return kargolocal.Start(t, kargolocal.Options{Bin: kargoBin, BinDir: binDir, DataDir: dataDir, Port: port, APIPort: apiPort})
}

// The foundation's promise: with kargo local up and the kargo-demo Project
// created, the seed manifests apply with kubectl, invalid objects are
// refused, and a restart keeps everything.
func TestLocalRunsAndKeepsState(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "state")
	port, apiPort := kargolocal.FreePort(t), kargolocal.FreePort(t)
	l := startLocal(t, dataDir, port, apiPort)
	require.Contains(t, l.Output(), "export KUBECONFIG="+filepath.Join(dataDir, "kubeconfig"))
	api, err := l.APIURL()
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("http://127.0.0.1:%d", apiPort), api)

	// kargo's resources live in projects: outside one they are refused.
	out, err := l.Kubectl(t, "", "create", "namespace", "plain")
	require.NoError(t, err, out)
	out, err = l.Kubectl(t, "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: test, namespace: plain}\n", "apply", "-f", "-")
	require.Error(t, err)
	require.Contains(t, out, `namespace "plain" is not a Kargo project`)

	out, err = l.Kubectl(t, "apiVersion: kargo.akuity.io/v1alpha1\nkind: Project\nmetadata: {name: kargo-demo}\n", "apply", "-f", "-")
	require.NoError(t, err, out)
	out, err = l.Kubectl(t, "", "wait", "--for=jsonpath={.status.phase}=Ready", "project/kargo-demo", "--timeout=60s")
	require.NoError(t, err, out)
	root, err := kubetest.RepoRoot()
	require.NoError(t, err)
	seeds, err := filepath.Glob(filepath.Join(root, "config", "samples", "seeds", "*.yaml"))
	require.NoError(t, err)
	for _, f := range seeds {
		if strings.Contains(f, "clusterrole-kargo-promoter") {
			continue // an excerpt of the pre-defined role, checked below
		}
		out, err := l.Kubectl(t, "", "apply", "-f", f)
		require.NoError(t, err, "%s: %s", filepath.Base(f), out)
	}
	out, err = l.Kubectl(t, "", "get", "clusterrole", "kargo-promoter", "-o", "jsonpath={.rules[*].verbs}")
	require.NoError(t, err, out)
	require.Contains(t, out, "promote")

	out, err = l.Kubectl(t, `
apiVersion: kargo.akuity.io/v1alpha1
kind: Promotion
metadata: {name: bad, namespace: kargo-demo}
spec: {freight: 404df86560cab5d515e7aa74653e665c1dc96e1c}
`, "apply", "-f", "-")
	require.Error(t, err)
	require.Contains(t, out, "spec.stage: Required value")

	out, err = l.Kubectl(t, "", "get", "freight", "--namespace", "kargo-demo")
	require.NoError(t, err, out)
	require.Contains(t, out, "No resources found")

	// The kargo CLI, logged in by kargo local, sees the same Stages.
	out, err = l.Kargo(t, "get", "stages", "--project", "kargo-demo")
	require.NoError(t, err, out)
	require.Regexp(t, `(?m)^NAME\s+CURRENT FREIGHT\s+HEALTH\s+PHASE\s+AGE$`, out)
	require.Regexp(t, `(?m)^test\s`, out)

	// A second instance, on a data dir of its own, leaves the CLI's config
	// to the first, and says how to use its own.
	secondDir := filepath.Join(filepath.Dir(dataDir), "state2")
	l2 := startLocal(t, secondDir, kargolocal.FreePort(t), 0)
	api2, err := l2.APIURL()
	require.NoError(t, err)
	own := filepath.Join(secondDir, "kargo-admin.yaml")
	require.Contains(t, l2.Output(), "is for another server, "+api+", and stays so")
	require.Contains(t, l2.Output(), "export KARGO_CONFIG="+own)
	out, err = l.Kargo(t, "config", "view")
	require.NoError(t, err, out)
	require.Contains(t, out, "server: "+api+"\n", "the CLI's config still names the first")
	// Each data dir's own config reaches its own server: the first has
	// kargo-demo, the second no project.
	for dir, want := range map[string]string{dataDir: "kargo-demo", secondDir: "No projects found."} {
		cmd := exec.Command(kargoBin, "--config", filepath.Join(dir, "kargo-admin.yaml"), "get", "projects")
		cmd.Env = append(os.Environ(), "KARGO_CONFIG=")
		msg, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", msg)
		require.Contains(t, string(msg), want)
	}
	require.NotEqual(t, api, api2)
	l2.Stop(t)

	// A second instance on the same data dir or port is refused clearly.
	second := exec.Command(kargoBin, "local", "--data-dir", dataDir, "--bin-dir", binDir, "--port", fmt.Sprint(kargolocal.FreePort(t)),
		"--api-addr", fmt.Sprintf("127.0.0.1:%d", kargolocal.FreePort(t)))
	msg, err := second.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(msg), dataDir)
	other := exec.Command(kargoBin, "local", "--data-dir", t.TempDir(), "--bin-dir", binDir, "--port", fmt.Sprint(port),
		"--api-addr", fmt.Sprintf("127.0.0.1:%d", kargolocal.FreePort(t)))
	msg, err = other.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(msg), fmt.Sprintf("port %d on 127.0.0.1 is in use", port))

	l.Stop(t)

	l = startLocal(t, dataDir, port, apiPort)
	out, err = l.Kubectl(t, "", "get", "stages,promotions,promotionpolicies", "--namespace", "kargo-demo", "-o", "name")
	require.NoError(t, err, out)
	require.Equal(t, strings.Join([]string{
		"stage.kargo.akuity.io/test",
		"promotion.kargo.akuity.io/test-to-404df86560cab5d515e7aa74653e665c1dc96e1c",
		"promotionpolicy.kargo.akuity.io/test",
	}, "\n"), strings.TrimSpace(out))
	// The local API token survives the restart: the CLI stays logged in.
	out, err = l.Kargo(t, "get", "promotions", "--project", "kargo-demo", "-o", "name")
	require.NoError(t, err, out)
	require.Contains(t, out, "test-to-404df86560cab5d515e7aa74653e665c1dc96e1c")
	l.Stop(t)
}

// Without the Kubernetes binaries, kargo local says how to get them.
func TestLocalWithoutBinaries(t *testing.T) {
	cmd := exec.Command(kargoBin, "local", "--data-dir", t.TempDir(), "--bin-dir", t.TempDir(), "--port", fmt.Sprint(kargolocal.FreePort(t)),
		"--api-addr", fmt.Sprintf("127.0.0.1:%d", kargolocal.FreePort(t)))
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "make kube-bins")
}

// Every address kargo local listens on is checked before anything starts:
// a busy one is refused at once, saying which flag changes it, rather than
// after the control plane's start-up.
func TestLocalAddressInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	addr := busy.Addr().String()
	free := func() string { return fmt.Sprintf("127.0.0.1:%d", kargolocal.FreePort(t)) }
	for _, tc := range []struct {
		flag string
		args []string
	}{
		{"--api-addr", []string{"--api-addr", addr}},
		{"--webhook-addr", []string{"--api-addr", free(), "--webhook-addr", addr}},
		{"--admission-addr", []string{"--api-addr", free(), "--admission-addr", addr}},
		{"--demo-registry-addr", []string{"--api-addr", free(), "--demo", "--demo-registry-addr", addr}},
		{"--demo-git-addr", []string{"--api-addr", free(), "--demo", "--demo-git-addr", addr}},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			cmd := exec.Command(kargoBin, append([]string{"local", "--data-dir", t.TempDir(), "--bin-dir", binDir, "--port", fmt.Sprint(kargolocal.FreePort(t))}, tc.args...)...)
			cmd.Env = append(os.Environ(), "KARGO_CONFIG="+filepath.Join(t.TempDir(), "cli.yaml"))
			out, err := cmd.CombinedOutput()
			require.Error(t, err)
			require.Contains(t, string(out), "cannot listen on "+addr+", which is in use", "%s", out)
			require.Contains(t, string(out), "choose another with "+tc.flag, "%s", out)
			require.NotContains(t, string(out), "started etcd", "nothing started: %s", out)
		})
	}
}
