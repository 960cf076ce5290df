package cli

import (
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/cli"
)

// mistypedProject runs commands in a project that does not exist, as
// someone who mistyped kargo-demo would: an error naming it, with the
// projects the caller may list, or, for a caller whose rights are in
// kargo-demo alone, the refusal naming it (whether it exists is not theirs
// to know).
func mistypedProject(t *testing.T, s *session) {
	s.note("A mistyped project is an error that names it, and the projects the caller may list.")
	s.login("admin")
	for _, line := range []string{
		"kargo get stages --project kargo-dmeo",
		"kargo promote --project kargo-dmeo --freight frozen-tauntaun --stage uat",
		"kargo config set-project kargo-dmeo",
	} {
		r := s.run(line)
		require.Equal(t, cli.ExitError, r.code, "%s: %s", line, r.stderr)
		require.Equal(t, "Error: project \"kargo-dmeo\" not found; the projects are kargo-demo\n", r.stderr, line)
	}
	s.note("alice's rights are in kargo-demo alone: she is refused in any other project, which is named, and learns no project's name.")
	s.login("alice")
	for _, line := range []string{
		"kargo get stages --project kargo-dmeo",
		"kargo promote --project kargo-dmeo --freight frozen-tauntaun --stage uat",
	} {
		r := s.run(line)
		require.Equal(t, cli.ExitError, r.code, "%s: %s", line, r.stderr)
		require.Contains(t, r.stderr, `in project "kargo-dmeo"`, line)
		require.NotContains(t, r.stderr, "kargo-demo", line)
	}
	s.golden("mistyped_project")
}

// serverDown runs commands when the API server the CLI is configured for
// does not answer: the error names the server and the config that names
// it, and what starts one.
func serverDown(t *testing.T, s *session) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	config := os.Getenv("KARGO_CONFIG")
	s.masks = append(s.masks, [2]string{down, "http://127.0.0.1:<port>"}, [2]string{config, "$KARGO_CONFIG"})
	s.note("The CLI's config names an API server that is not running (kargo local stopped, say).")
	require.NoError(t, os.WriteFile(config, []byte("server: "+down+"\ntoken: x\nproject: kargo-demo\n"), 0o600))
	for _, line := range []string{
		"kargo get stages",
		"kargo login " + down + " --token-file alice.token",
	} {
		r := s.run(line)
		require.Equal(t, cli.ExitError, r.code, "%s: %s", line, r.stderr)
		require.Contains(t, r.stderr, "cannot reach the kargo API server at "+down, line)
		require.Contains(t, r.stderr, "`make run`", line)
	}
	s.golden("server_down")
	s.login("alice")
}
