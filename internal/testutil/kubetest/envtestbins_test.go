package kubetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hack/envtest-bins-prune.sh, which hack/envtest-bins.sh runs after a build,
// deletes other versions' binaries only when nobody has been handed them for
// two weeks and no process uses them: a running `kargo local` or another
// checkout's tests keep theirs.
func TestEnvtestBinsPruneKeepsWhatIsInUse(t *testing.T) {
	repo, err := RepoRoot()
	require.NoError(t, err)
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	root := t.TempDir()
	now := time.Now()
	old, recent := now.Add(-30*24*time.Hour), now.Add(-24*time.Hour)

	// version makes a cache directory whose files were last touched at the
	// given times (zero: no such file).
	version := func(name string, used, complete time.Time) string {
		dir := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		raw, err := os.ReadFile(sleep)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "etcd"), raw, 0o755))
		for file, at := range map[string]time.Time{".used": used, ".complete": complete} {
			if at.IsZero() {
				continue
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, file), nil, 0o644))
			require.NoError(t, os.Chtimes(filepath.Join(dir, file), at, at))
		}
		require.NoError(t, os.Chtimes(dir, old, old))
		return dir
	}
	current := version("v1.37.1-current", old, old)
	stale := version("v1.36.0-stale", old, old)
	builtLongAgo := version("v1.35.0-legacy", time.Time{}, old) // by a script that kept no .used
	handedOutRecently := version("v1.36.0-recent", recent, old)
	builtRecently := version("v1.35.0-new", time.Time{}, recent)
	running := version("v1.36.0-running", old, old)
	named := version("v1.36.0-named", old, old)
	unfinished := filepath.Join(root, ".build.abc123")
	require.NoError(t, os.MkdirAll(unfinished, 0o755))
	other := filepath.Join(root, "notes")
	require.NoError(t, os.MkdirAll(other, 0o755))

	// A kube-apiserver started from one directory, and a test run that was
	// pointed at another.
	start := func(cmd *exec.Cmd) {
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	start(exec.Command(filepath.Join(running, "etcd"), "600"))
	tests := exec.Command(sleep, "600")
	tests.Env = append(os.Environ(), "KUBEBUILDER_ASSETS="+named)
	start(tests)

	prune := exec.Command(filepath.Join(repo, "hack", "envtest-bins-prune.sh"), root, current)
	out, err := prune.CombinedOutput()
	require.NoError(t, err, "%s", out)

	for _, kept := range []string{current, handedOutRecently, builtRecently, running, named} {
		require.FileExists(t, filepath.Join(kept, "etcd"), "%s was deleted\n%s", kept, out)
	}
	require.DirExists(t, other)
	for _, gone := range []string{stale, builtLongAgo, unfinished} {
		require.NoDirExists(t, gone, "%s was kept\n%s", gone, out)
	}
	require.Contains(t, string(out), "keeping "+running+": unused for 30 days but still in use")
}
