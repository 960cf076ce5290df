package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/testutil/kargolocal"
)

// publish runs `kargo local demo publish` as a user in another terminal
// would: without --data-dir, finding the running demo by itself.
func publish(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(kargoBin, append([]string{"local", "demo", "publish"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kargo local --demo on a data dir of its own, published to, restarted:
// publish finds it without --data-dir, refuses at once a tag that would make
// no Freight (one published already, one older than the newest), and the
// banner after the restart lists what the registry holds and suggests a
// tag not published yet.
func TestLocalDemoAcrossARestart(t *testing.T) {
	// The running instance records itself beside the default data dir:
	// this test's own.
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	dataDir := filepath.Join(t.TempDir(), "elsewhere")
	port, apiPort := kargolocal.FreePort(t), kargolocal.FreePort(t)
	start := func() *kargolocal.Local {
		return kargolocal.Start(t, kargolocal.Options{Bin: kargoBin, BinDir: binDir, DataDir: dataDir, Port: port, APIPort: apiPort, Args: []string{"--demo", "--no-argocd"}})
	}
	l := start()
	require.Contains(t, l.Output(), "(repository nginx, tags 1.24.0, 1.25.0, 1.26.0)")
	require.Contains(t, l.Output(), "Publish a new image tag with: kargo local demo publish 1.27.0\n")

	out, err := publish(t, "1.27.0")
	require.NoError(t, err, out)
	require.Contains(t, out, "/nginx:1.27.0 (sha256:")
	require.Contains(t, out, "Auto-promoted into test")

	for tag, want := range map[string]string{
		"1.27.0": "nginx:1.27.0 is in the demo registry already, so the Warehouse has seen it (kargo get freight --project kargo-demo shows its Freight): publish a new tag, such as 1.28.0",
		"1.26.5": "Warehouse kargo-demo takes the newest nginx tag matching ^1.24.0, which is 1.27.0, so it would never pick the older 1.26.5: publish a newer tag, such as 1.28.0",
		"2.0.0":  "Warehouse kargo-demo takes nginx tags matching ^1.24.0, so it would never pick 2.0.0: publish a tag that matches, such as 1.28.0",
	} {
		out, err := publish(t, tag)
		require.Error(t, err, out)
		require.Equal(t, "Error: "+want+"\n", out, "refused before anything is pushed")
	}
	l.Stop(t)

	out, err = publish(t, "1.28.0")
	require.Error(t, err, out)
	require.Contains(t, out, "no kargo local --demo is running")

	l = start()
	require.Contains(t, l.Output(), "(repository nginx, tags 1.24.0, 1.25.0, 1.26.0, 1.27.0)", "the registry as it is now")
	require.Contains(t, l.Output(), "Publish a new image tag with: kargo local demo publish 1.28.0\n")
	records, err := os.ReadDir(filepath.Join(os.Getenv("XDG_STATE_HOME"), "kargo", "running"))
	require.NoError(t, err)
	require.Len(t, records, 1, "the stopped instance's record is gone, the running one's is there")
	require.True(t, strings.HasSuffix(records[0].Name(), ".json"))
	l.Stop(t)
}
