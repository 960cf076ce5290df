// Package walkthrough runs the README's five-minute walkthrough, command
// by command, as a newcomer would: `make run` (kargo local --demo) in one
// process, every other command in one bash session in the source tree,
// with a home directory of its own so that the README's paths
// (~/.local/state/kargo/local, ~/.config/kargo) are this test's. Each
// command's visible outcome is checked: its output and exit code, the
// GitOps repository's branches, the Stages' status. A command in the
// README without a check here, or a check whose command left the README,
// fails the test: the README cannot drift from the product.
package walkthrough

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/demo"
	"github.com/kargohq/kargo/internal/testutil/kargolocal"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

var (
	root    string // the source tree
	binDir  string // the Kubernetes binaries
	argoDir string // Argo CD's binaries
	goEnv   []string
	walkEnv []string // the environment of the walkthrough's commands
	home    string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if root, err = kubetest.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if binDir, err = kubetest.BinDir(); err != nil {
		fmt.Fprintf(os.Stderr, "walkthrough: Kubernetes binaries: %v (build them with `make kube-bins`)\n", err)
		return 1
	}
	if argoDir, err = kubetest.ArgoCDBinDir(); err != nil {
		fmt.Fprintf(os.Stderr, "walkthrough: Argo CD binaries: %v (build them with `make argocd-bins`)\n", err)
		return 1
	}
	// The Go, Kubernetes and Argo CD caches stay the real ones: the
	// walkthrough's own home must not make `make run` build them again.
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	vals := strings.Split(strings.TrimSpace(string(out)), "\n")
	goEnv = []string{"GOCACHE=" + vals[0], "GOMODCACHE=" + vals[1], "GOPATH=" + vals[2], "GOTOOLCHAIN=local", "GOFLAGS=" + os.Getenv("GOFLAGS")}
	return m.Run()
}

// step is one command of the walkthrough and what it showed.
type step struct {
	command string
	output  string
	exit    int
}

// walkthrough returns the README's walkthrough: the command of its first
// block (make run) and the commands of the others, in order.
func walkthrough(t *testing.T) (string, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	text := string(b)
	start := strings.Index(text, "<!-- walkthrough:")
	end := strings.Index(text, "<!-- walkthrough end -->")
	require.True(t, start >= 0 && end > start, "README.md has no walkthrough section between <!-- walkthrough: ... --> and <!-- walkthrough end -->")
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text[start:end], -1)
	require.GreaterOrEqual(t, len(blocks), 2, "the walkthrough has a make run block and command blocks")
	require.Equal(t, "make run", strings.TrimSpace(blocks[0][1]), "the walkthrough starts with make run")
	var cmds []string
	for _, b := range blocks[1:] {
		for _, line := range strings.Split(b[1], "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				cmds = append(cmds, line)
			}
		}
	}
	return "make run", cmds
}

// ports are the Kubernetes and kargo API ports of every `make run` of the
// test: the same at each start, as `make run`'s defaults are, since the
// kubeconfig and the CLI's config name them.
var ports struct{ kube, api int }

// startMakeRun runs `make run` as the README says, on free ports (ARGS,
// which the Makefile passes on, so that a developer's own kargo local does
// not get in the way), plus extra, and waits for its banner.
func startMakeRun(t *testing.T, extra ...string) *kargolocal.Local {
	t.Helper()
	if ports.kube == 0 {
		ports.kube, ports.api = kargolocal.FreePort(t), kargolocal.FreePort(t)
	}
	args := append([]string{fmt.Sprintf("--port %d --api-addr 127.0.0.1:%d", ports.kube, ports.api)}, extra...)
	cmd := exec.Command("make", "run", "ARGS="+strings.Join(args, " "))
	cmd.Dir = root
	cmd.Env = append(walkEnv, "ENVTEST_BINS_CACHE="+filepath.Dir(binDir), "ARGOCD_BINS_CACHE="+filepath.Dir(argoDir))
	return kargolocal.StartCommand(t, cmd, kargolocal.Options{DataDir: filepath.Join(home, ".local", "state", "kargo", "local")})
}

// session is one bash session in the source tree, run a command at a
// time, so that each command's outcome is checked before the next runs.
type session struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
}

func newSession(t *testing.T) *session {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir = root
	cmd.Env = walkEnv
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	return &session{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
}

// run runs one command, as typed, and returns what it printed (stdout and
// stderr) and its exit code.
func (s *session) run(t *testing.T, command string) step {
	t.Helper()
	_, err := fmt.Fprintf(s.stdin, "%s 2>&1\necho \"::exit $?\"\n", command)
	require.NoError(t, err)
	st := step{command: command}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s.lines.Scan() {
			line := s.lines.Text()
			if _, err := fmt.Sscanf(line, "::exit %d", &st.exit); err == nil && strings.HasPrefix(line, "::exit ") {
				return
			}
			st.output += line + "\n"
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("%s: not done after 5 minutes; so far:\n%s", command, st.output)
	}
	t.Logf("$ %s\n%s(exit %d)", command, st.output, st.exit)
	return st
}

// The README's walkthrough, every command of it.
func TestWalkthrough(t *testing.T) {
	home = t.TempDir()
	walkEnv = append([]string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"TERM=dumb",
		"LANG=C.UTF-8",
	}, goEnv...)
	makeCmd, cmds := walkthrough(t)
	require.Equal(t, "make run", makeCmd)
	dataDir := filepath.Join(home, ".local", "state", "kargo", "local")

	r := startMakeRun(t)
	banner := r.Output()
	require.Contains(t, banner, "UI:          http://127.0.0.1:", "the banner gives the UI link the README sends people to")
	require.Regexp(t, `The kargo-demo project is set up \(Freight [a-z]+-[a-z]+ is in test, verified, health Healthy\)`, banner)
	require.Regexp(t, `Argo CD: +v3\.6\.1`, banner, "make run runs a real Argo CD")
	// The UI link opens the UI (test/ui clicks through it).
	link, err := r.UIURL()
	require.NoError(t, err)
	resp, err := http.Get(link)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), `<div id="root">`)

	sh := newSession(t)
	c := newChecker(t, dataDir)
	for _, command := range cmds {
		c.check(sh.run(t, command))
	}
	c.done()

	// make run again: everything is where it was.
	r.Stop(t)
	r = startMakeRun(t)
	out := kargoAsUser(t, "get", "freight", "--project", demo.Project)
	require.Equal(t, 4, strings.Count(out, "\n"), "three Freight and the header after a restart:\n%s", out)
	require.Contains(t, out, "hotfix")
	// The banner says what the registry holds now, and suggests a tag
	// not published yet; publishing one again is refused at once.
	require.Contains(t, r.Output(), "tags 1.24.0, 1.25.0, 1.26.0, 1.27.0, 1.27.1)")
	require.Contains(t, r.Output(), "Publish a new image tag with: kargo local demo publish 1.28.0\n")
	again := exec.Command(filepath.Join(root, "bin", "kargo"), "local", "demo", "publish", "1.27.0")
	again.Env = walkEnv
	msg, err := again.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(msg), "nginx:1.27.0 is in the demo registry already")
	r.Stop(t)

	// make run ARGS=--reset: an empty installation again, with the demo.
	r = startMakeRun(t, "--reset")
	require.Contains(t, r.Output(), "--reset: deleted "+dataDir)
	out = kargoAsUser(t, "get", "freight", "--project", demo.Project)
	require.Equal(t, 2, strings.Count(out, "\n"), "one Freight and the header after --reset:\n%s", out)
	require.NotContains(t, out, "hotfix")
	r.Stop(t)
}

// kargoAsUser runs bin/kargo (which make run built) as the walkthrough's
// user.
func kargoAsUser(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(root, "bin", "kargo"), args...)
	cmd.Env = walkEnv
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kargo %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}
