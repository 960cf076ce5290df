package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/cli"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testdata is where the transcripts are, found before the session moves
// to its own working directory.
var testdata = func() string {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		panic(err)
	}
	return dir
}()

// serverVar is how transcripts write the API server's address, which
// changes from run to run; command lines use it as a shell would.
const serverVar = "$KARGO_SERVER"

// session is a user at a shell: a working directory holding their token
// files, $KARGO_CONFIG pointing at a config of their own, and a
// transcript of what they ran and saw.
type session struct {
	t          *testing.T
	transcript strings.Builder
	// masks replace what differs between runs, in this order.
	masks [][2]string
	// promotions counts the Promotions created, to name them in masks.
	promotions int
}

func newSession(t *testing.T) *session {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("KARGO_CONFIG", filepath.Join(dir, "kargo", "config.yaml"))
	for _, u := range kubetest.TokenUsers {
		require.NoError(t, os.WriteFile(u+".token", []byte(kubetest.Token(u)+"\n"), 0o600))
	}
	return &session{t: t, masks: [][2]string{{api.URL, serverVar}}}
}

// result is what one command line did.
type result struct {
	stdout, stderr string
	code           int
}

// login logs in as user with the token file the session holds for them.
func (s *session) login(user string) {
	s.t.Helper()
	r := s.run("kargo login " + serverVar + " --token-file " + user + ".token")
	require.Equal(s.t, cli.ExitOK, r.code, r.stderr)
}

// note adds a comment to the transcript.
func (s *session) note(lines ...string) {
	for _, l := range lines {
		s.transcript.WriteString("# " + l + "\n")
	}
}

// run runs a kargo command line, written as a user types it (backslash
// continuations included), through cli.Execute, and records it.
func (s *session) run(line string) result {
	s.t.Helper()
	words := strings.Fields(strings.ReplaceAll(strings.ReplaceAll(line, "\\\n", " "), serverVar, api.URL))
	require.Equal(s.t, "kargo", words[0], "a kargo command line: %s", line)
	var stdout, stderr bytes.Buffer
	code := cli.Execute(context.Background(), words[1:], &stdout, &stderr)
	r := result{stdout: stdout.String(), stderr: stderr.String(), code: code}
	if len(words) > 1 && words[1] == "promote" && code != cli.ExitUsage && code != cli.ExitError {
		// The new Promotion's name ends in random characters; number it
		// instead, keeping its length so that tables stay aligned.
		name, _, _ := strings.Cut(r.stdout, "\n")
		s.promotions++
		s.masks = append(s.masks, [2]string{name, name[:len(name)-5] + fmt.Sprintf("%05d", s.promotions)})
	}
	s.record(line, words[1:], r)
	return r
}

var (
	// progress lines of `kargo promote --wait`: how many the CLI prints
	// depends on how fast the controller is, so transcripts leave them
	// out (promote_test.go checks them).
	progressLine = regexp.MustCompile(`(?m)^Promotion \S+ is (Pending|Running)(: .*)?\n`)
	timestamp    = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z`)
	lastColumn   = regexp.MustCompile(`\S+$`)
)

func (s *session) record(line string, args []string, r result) {
	out := progressLine.ReplaceAllString(r.stdout, "")
	if isTable(args) && out != "" {
		// AGE, the last column, counts from when the test ran.
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for i := 1; i < len(lines); i++ {
			lines[i] = lastColumn.ReplaceAllString(lines[i], "<age>")
		}
		out = strings.Join(lines, "\n") + "\n"
	}
	var b strings.Builder
	b.WriteString("$ " + line + "\n")
	b.WriteString(out)
	for _, l := range strings.SplitAfter(r.stderr, "\n") {
		if l != "" {
			b.WriteString("[stderr] " + l)
		}
	}
	if r.code != cli.ExitOK {
		fmt.Fprintf(&b, "[exit %d]\n", r.code)
	}
	s.transcript.WriteString(s.mask(b.String()))
}

// isTable says whether a command line prints a table: kargo get without
// -o.
func isTable(args []string) bool {
	if len(args) < 2 || args[0] != "get" || args[1] == "roles" {
		// Roles have no AGE column.
		return false
	}
	for _, a := range args {
		if a == "-o" || a == "--output" || strings.HasPrefix(a, "-o=") || strings.HasPrefix(a, "--output=") {
			return false
		}
	}
	return true
}

func (s *session) mask(text string) string {
	for _, m := range s.masks {
		text = strings.ReplaceAll(text, m[0], m[1])
	}
	text = jwt.ReplaceAllString(text, "<token>")
	return timestamp.ReplaceAllString(text, "<time>")
}

// golden compares the transcript so far with testdata/name.golden (or
// with -update rewrites it), and starts a new one.
func (s *session) golden(name string) {
	s.t.Helper()
	got := s.transcript.String()
	s.transcript.Reset()
	path := filepath.Join(testdata, name+".golden")
	if *update {
		require.NoError(s.t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(s.t, err, "run go test ./test/cli -update to create it")
	require.Equal(s.t, string(want), got, "the transcript differs from %s", path)
}
