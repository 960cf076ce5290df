package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every command that takes --project, run with a project that does not
// exist: an error naming it, with the projects the caller may list, and
// never an empty answer.
func TestAMissingProjectIsAnError(t *testing.T) {
	h := newHarness(t, false)
	password := filepath.Join(t.TempDir(), "password")
	require.NoError(t, os.WriteFile(password, []byte("secret\n"), 0o600))
	const nope = "no-such-project"
	commands := [][]string{
		{"get", "warehouses"},
		{"get", "stages"},
		{"get", "stages", "test"},
		{"get", "freight"},
		{"get", "freight", "mortal-dragonfly"},
		{"get", "promotions", "--watch"},
		{"get", "promotionpolicies", "-o", "name"},
		{"promote", "--freight", "mortal-dragonfly", "--stage", "test"},
		{"promote", "--freight-alias", "mortal-dragonfly", "--stage", "test"},
		{"approve", "--freight", "mortal-dragonfly", "--stage", "test"},
		{"update", "freight", "--old-alias", "mortal-dragonfly", "--new-alias", "frozen-tauntaun"},
		{"refresh", "warehouse", "kargo-demo"},
		{"refresh", "stage", "test"},
		{"verify", "stage", "test"},
		{"create", "freight", "--warehouse", "kargo-demo", "--image", "registry.invalid/app:1.0.0"},
		{"create", "credentials", "repo", "--repo-url", "https://git.invalid/repo.git", "--username", "u", "--password-file", password},
		{"get", "roles"},
		{"create", "role", "deployer", "--rule", "promote:stages:uat"},
		{"delete", "role", "deployer"},
		{"grant", "--role", "viewer", "--user", "carol"},
		{"revoke", "--role", "viewer", "--user", "carol"},
		{"get", "tokens"},
		{"create", "token", "ci", "--role", "viewer"},
		{"delete", "token", "ci"},
	}
	listed := regexp.MustCompile(`^Error: project "` + nope + `" not found; the projects are [a-z0-9-]+(, [a-z0-9-]+)*( and \d+ more \(kargo get projects lists them\))?\n$`)
	h.login(admin)
	for _, args := range commands {
		r := h.run(append(args, "--project", nope)...)
		require.Equal(t, ExitError, r.code, "%v: %s", args, r.stderr)
		require.Regexp(t, listed, r.stderr, "%v", args)
		require.Empty(t, r.stdout, "%v", args)
	}

	// adam holds a role in his own project alone: every command is
	// refused, naming the project, and he learns no project's name.
	h.login(adam)
	for _, args := range commands {
		r := h.run(append(args, "--project", nope)...)
		require.Equal(t, ExitError, r.code, "%v: %s", args, r.stderr)
		require.Contains(t, r.stderr, `"`+nope+`"`, "%v", args)
		require.Regexp(t, `^(Error: |secret/repo refused \(Forbidden\): )user "adam" may not `, r.stderr, "%v", args)
		require.NotContains(t, r.stderr, h.project, "%v", args)
		require.NotContains(t, r.stderr, "the projects are", "%v", args)
	}
	// His own project, by contrast, is there and empty.
	r := h.run("get", "stages", "--project", h.project)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "No stages found in project "+h.project+".\n", r.stderr)
}

// A caller who may not list projects, told that one is missing, learns no
// other project's name.
func TestAMissingProjectForACallerWhoMayNotListProjects(t *testing.T) {
	h := newHarness(t, false)
	h.login(adam)
	g := *h.g
	g.configFlag = h.config
	err := g.explainMissingProject(t.Context(), "no-such-project")
	require.EqualError(t, err, `project "no-such-project" not found; you may not list projects, so ask your kargo administrator for the names of yours`)
	require.False(t, strings.Contains(err.Error(), h.project))
}
