package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// complete asks for completions as the shell scripts do, through cobra's
// hidden __complete command, and returns them without the directive line.
func (h *harness) complete(args ...string) []string {
	h.t.Helper()
	r := h.run(append([]string{"__complete"}, args...)...)
	require.Equal(h.t, ExitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.True(h.t, strings.HasPrefix(lines[len(lines)-1], ":"), "the last line is the directive: %q", r.stdout)
	return lines[:len(lines)-1]
}

func TestCompletion(t *testing.T) {
	h := newHarness(t, true)
	a, b := h.pipeline()
	h.create(warehouseNamed("fresh", "registry.invalid/other"))
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "stage names for get", args: []string{"get", "stages", ""}, want: []string{"production", "test"}},
		{name: "names already given are left out", args: []string{"get", "stage", "test", ""}, want: []string{"production"}},
		{name: "a prefix", args: []string{"get", "stages", "pro"}, want: []string{"production"}},
		{name: "freight names and aliases", args: []string{"get", "freight", ""}, want: []string{
			a.Name + "\tmortal-dragonfly", "mortal-dragonfly\t" + a.Name,
			b.Name + "\tfrozen-tauntaun", "frozen-tauntaun\t" + b.Name,
		}},
		{name: "--freight by prefix of an alias", args: []string{"promote", "--stage", "test", "--freight", "mor"}, want: []string{"mortal-dragonfly\t" + a.Name}},
		{name: "--freight-alias offers aliases only", args: []string{"approve", "--freight-alias", ""}, want: []string{"mortal-dragonfly\t" + a.Name, "frozen-tauntaun\t" + b.Name}},
		{name: "--stage", args: []string{"promote", "--stage", ""}, want: []string{"production", "test"}},
		{name: "update freight --old-alias", args: []string{"update", "freight", "--old-alias", "f"}, want: []string{"frozen-tauntaun\t" + b.Name}},
		{name: "refresh warehouse", args: []string{"refresh", "warehouse", ""}, want: []string{"fresh", "kargo-demo"}},
		{name: "verify stage", args: []string{"verify", "stage", "t"}, want: []string{"test"}},
		{name: "the project of the command line is used", args: []string{"get", "stages", "--project", "other", ""}, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, h.complete(tt.args...))
		})
	}
}

// TestCompletionOfProjects: only a cluster-wide role lists Projects; the
// administrator sees every test's, so this asks for the test's own by its
// name.
func TestCompletionOfProjects(t *testing.T) {
	h := newHarness(t, true)
	h.login(admin)
	for _, args := range [][]string{
		{"get", "stages", "--project", h.project},
		{"promote", "--project", h.project},
		{"get", "projects", h.project},
		{"config", "set-project", h.project},
	} {
		got := h.complete(args...)
		require.Contains(t, got, h.project, "%v", args)
		for _, p := range got {
			require.True(t, strings.HasPrefix(p, h.project), "%v: %s", args, p)
		}
	}
	// adam administers his project but may not list Projects: nothing,
	// quietly.
	h.login(adam)
	require.Empty(t, h.complete("get", "stages", "--project", h.project))
}

func TestCompletionFailsQuietly(t *testing.T) {
	h := newHarness(t, true)
	h.create(testStage())
	require.Equal(t, []string{"test"}, h.complete("get", "stages", ""))
	cfg := readConfig(t, h.config)
	cfg.Token = "rotated"
	require.NoError(t, saveConfig(h.config, cfg))
	r := h.run("__complete", "get", "stages", "")
	require.Equal(t, ExitOK, r.code)
	require.Equal(t, ":4\n", r.stdout, "no completions, and no file names either")
	require.NotContains(t, r.stderr, "token", "no noise from the API")
}

func TestCompletionScripts(t *testing.T) {
	h := newHarness(t, false)
	for shell, marker := range map[string]string{
		"bash": "__start_kargo",
		"zsh":  "#compdef kargo",
		"fish": "complete -c kargo",
	} {
		r := h.run("completion", shell)
		require.Equal(t, ExitOK, r.code, r.stderr)
		require.Contains(t, r.stdout, marker, shell)
	}
	require.Equal(t, ExitUsage, h.run("completion", "powershell").code)
	require.Equal(t, ExitUsage, h.run("completion").code)
}
