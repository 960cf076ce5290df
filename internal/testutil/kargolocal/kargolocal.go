// Package kargolocal builds the kargo binary and runs `kargo local` from it
// as a user would: a child process with its own data directory, whose
// banner says where everything is. End-to-end tests of the binary and of
// the web UI share it.
package kargolocal

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles ./cmd/kargo of the source tree at root into a temporary
// directory. cleanup removes it.
func Build(root string) (bin string, cleanup func(), err error) {
	tmp, err := os.MkdirTemp("", "kargo-bin-")
	if err != nil {
		return "", nil, fmt.Errorf("create a directory for the kargo binary: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(tmp) }
	bin = filepath.Join(tmp, "kargo")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kargo")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build kargo: %w\n%s", err, out)
	}
	return bin, cleanup, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Options says which kargo local to start.
type Options struct {
	// Bin is the kargo binary, as Build returns it.
	Bin string
	// BinDir holds kube-apiserver, etcd, kubectl and kube-controller-manager.
	BinDir string
	// DataDir is kargo local's --data-dir. The kargo CLI's config file goes
	// beside it, so that kargo local logs the CLI in without touching the
	// user's own configuration.
	DataDir string
	// Port is the Kubernetes API's port on 127.0.0.1.
	Port int
	// APIPort is kargo's API server's port on 127.0.0.1; zero picks a free
	// one. A restart on the same DataDir must pass the same one: the CLI's
	// config names it.
	APIPort int
	// Args are further flags of kargo local, such as --demo.
	Args []string
}

// Local is one running `kargo local`.
type Local struct {
	opts Options
	cmd  *exec.Cmd
	// cliConfig is the kargo CLI's config file, which kargo local logs in.
	cliConfig string

	mu  sync.Mutex
	out strings.Builder

	done    chan struct{} // closed when the process has exited
	waitErr error         // how it exited; read only after done is closed
}

// Start starts `kargo local` and waits until it has printed its whole "is
// running" banner. Unless Stop is called, the process is interrupted when
// the test ends.
func Start(t testing.TB, o Options) *Local {
	t.Helper()
	if o.APIPort == 0 {
		o.APIPort = FreePort(t)
	}
	cliConfig := filepath.Join(filepath.Dir(o.DataDir), "kargo-cli.yaml")
	cmd := exec.Command(o.Bin, "local", "--data-dir", o.DataDir, "--bin-dir", o.BinDir, "--port", fmt.Sprint(o.Port),
		"--api-addr", fmt.Sprintf("127.0.0.1:%d", o.APIPort))
	cmd.Args = append(cmd.Args, o.Args...)
	cmd.Env = append(os.Environ(), "KARGO_CONFIG="+cliConfig)
	l := StartCommand(t, cmd, o)
	l.cliConfig = cliConfig
	return l
}

// StartCommand runs cmd, a command that runs kargo local on o.DataDir (such
// as `make run`), in a process group of its own, and waits for the banner
// as Start does. Stop and the end of the test interrupt the whole group, as
// Ctrl-C in a terminal does.
func StartCommand(t testing.TB, cmd *exec.Cmd, o Options) *Local {
	t.Helper()
	l := &Local{opts: o, cmd: cmd, done: make(chan struct{})}
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := l.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("kargo local: %v", err)
	}
	l.cmd.Stderr = (*lockedWriter)(l)
	if err := l.cmd.Start(); err != nil {
		t.Fatalf("start kargo local: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			l.mu.Lock()
			l.out.WriteString(line + "\n")
			l.mu.Unlock()
			// The banner's last line: everything above it has been read.
			if strings.HasPrefix(line, "Press Ctrl-C to stop") {
				close(ready)
			}
		}
		l.waitErr = l.cmd.Wait()
		close(l.done)
	}()
	t.Cleanup(func() {
		select {
		case <-l.done:
			return
		default:
		}
		_ = l.interrupt()
		select {
		case <-l.done:
		case <-time.After(time.Minute):
			_ = syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	select {
	case <-ready:
	case <-l.done:
		t.Fatalf("kargo local exited before it was ready: %v\n%s", l.waitErr, l.Output())
	case <-time.After(5 * time.Minute):
		t.Fatalf("kargo local not ready after 5 minutes:\n%s", l.Output())
	}
	return l
}

// interrupt sends Ctrl-C to the process group.
func (l *Local) interrupt() error { return syscall.Kill(-l.cmd.Process.Pid, syscall.SIGINT) }

// lockedWriter appends kargo local's stderr to the output its stdout goes
// to.
type lockedWriter Local

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(b)
}

// Output is everything kargo local has printed so far, stdout and stderr.
func (l *Local) Output() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.String()
}

// Stop sends Ctrl-C and fails the test unless kargo local exits cleanly
// within a minute, saying that it kept its state.
func (l *Local) Stop(t testing.TB) {
	t.Helper()
	if err := l.interrupt(); err != nil {
		t.Fatalf("interrupt kargo local: %v\n%s", err, l.Output())
	}
	select {
	case <-l.done:
		// make passes Ctrl-C on and then ends by it itself.
		var exit *exec.ExitError
		byCtrlC := errors.As(l.waitErr, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT
		if l.waitErr != nil && !byCtrlC {
			t.Fatalf("kargo local did not exit cleanly: %v\n%s", l.waitErr, l.Output())
		}
	case <-time.After(time.Minute):
		t.Fatalf("kargo local did not stop within a minute of Ctrl-C:\n%s", l.Output())
	}
	if want := "stopped; state kept in " + l.opts.DataDir; !strings.Contains(l.Output(), want) {
		t.Fatalf("kargo local did not say %q:\n%s", want, l.Output())
	}
}

// Kubeconfig is the path of the admin's kubeconfig in the data directory.
func (l *Local) Kubeconfig() string { return filepath.Join(l.opts.DataDir, "kubeconfig") }

// Kargo runs the kargo CLI as a user would after kargo local logged it in.
func (l *Local) Kargo(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(l.opts.Bin, args...)
	cmd.Env = append(os.Environ(), "KARGO_CONFIG="+l.cliConfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Kubectl runs kubectl as the admin, with stdin as its input.
func (l *Local) Kubectl(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(l.opts.BinDir, "kubectl"), append([]string{"--kubeconfig", l.Kubeconfig()}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// APIURL is the address of kargo's API server, from the banner's
// "kargo API:" line.
func (l *Local) APIURL() (string, error) { return l.bannerValue("kargo API:") }

// UIURL is the web UI's address from the banner's "UI:" line, with the
// local admin's token in its fragment.
func (l *Local) UIURL() (string, error) { return l.bannerValue("UI:") }

// bannerValue returns what follows label on the banner line that starts
// with it.
func (l *Local) bannerValue(label string) (string, error) {
	for line := range strings.Lines(l.Output()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), label); ok {
			if v = strings.TrimSpace(v); v != "" {
				return v, nil
			}
		}
	}
	return "", fmt.Errorf("kargo local printed no %q line:\n%s", label, l.Output())
}
