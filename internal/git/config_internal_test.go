package git

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A work tree's settings come partly from users (a repository URL, an
// author): appendConfig quotes them so that none can add a setting of its
// own, and git reads back exactly what was written.
func TestAppendConfigQuotes(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("git", "init", "--quiet", "--template=", dir).CombinedOutput()
	require.NoError(t, err, string(out))
	cfg := filepath.Join(dir, ".git", "config")
	values := map[string]string{
		"kargo.repoURL": `https://example.com/a"b\c;d#e.git`,
		"user.name":     `Dev "the \\ one" ] [core] x = y`,
		"user.email":    ` spaced@example.com `,
	}
	var settings [][2]string
	for k, v := range values {
		settings = append(settings, [2]string{k, v})
	}
	require.NoError(t, appendConfig(cfg, settings))
	for k, v := range values {
		out, err := exec.Command("git", "config", "--file", cfg, "--get", k).Output()
		require.NoError(t, err, k)
		require.Equal(t, v, strings.TrimSuffix(string(out), "\n"), k)
	}
	out, err = exec.Command("git", "config", "--file", cfg, "--list").Output()
	require.NoError(t, err)
	require.NotContains(t, strings.ToLower(string(out)), "core.x", "a value added a setting")

	before, err := os.ReadFile(cfg)
	require.NoError(t, err)
	for _, bad := range []string{"a\n[core]\n\tsshCommand = evil", "a\rb", "a\x00b"} {
		require.ErrorIs(t, appendConfig(cfg, [][2]string{{"user.name", bad}}), ErrInvalidRequest)
	}
	after, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after), "a refused value wrote nothing")
}
