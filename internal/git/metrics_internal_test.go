package git

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/testutil/metricstest"
)

// A process is counted under its git command, not under the value of a -c
// or -C that comes before it.
func TestCountProcessNamesTheCommand(t *testing.T) {
	count := func(command string) float64 {
		v, _ := metricstest.Find(t, "kargo_git_processes_total", map[string]string{"command": command})
		return v
	}
	before := count("diff-tree")
	countProcess([]string{"--git-dir=/m", "-c", "core.quotePath=false", "diff-tree", "-p"})
	countProcess([]string{"-C", "/w", "-c", "commit.gpgSign=false", "diff-tree"})
	require.Equal(t, before+2, count("diff-tree"))
	_, found := metricstest.Find(t, "kargo_git_processes_total", map[string]string{"command": "core.quotePath=false"})
	require.False(t, found)
}
