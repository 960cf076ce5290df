package localcp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// logTailLines is how much of a child's log an error quotes: enough to show
// the fatal message, which components print last.
const logTailLines = 20

// child is one running component of the control plane.
type child struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has been reaped
	waitErr error         // valid after exited is closed
}

// startChild runs bin with args, its output appended to logDir/name.log. The
// previous run's log is kept as name.log.1, so a crash that led to a restart
// can still be read.
func startChild(name, bin string, args []string, env []string, dir, logDir string) (*child, error) {
	logPath := filepath.Join(logDir, name+".log")
	if err := os.Rename(logPath, logPath+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("rotate %s: %w", logPath, err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	fmt.Fprintf(logFile, "# %s %s\n", bin, strings.Join(args, " "))

	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childAttr()
	err = cmd.Start()
	// The child holds its own descriptor for the log from here on.
	logFile.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// running reports whether the process has not exited yet.
func (c *child) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the child's process group, waits up to grace for it
// to exit and then kills the group. It reports whether the kill was needed.
func (c *child) stop(grace time.Duration) (killed bool, err error) {
	if !c.running() {
		return false, nil
	}
	if err := signalGroup(c.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		return false, fmt.Errorf("stop %s: %w", c.name, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-c.exited:
		return false, nil
	case <-timer.C:
	}
	if err := signalGroup(c.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return true, fmt.Errorf("kill %s: %w", c.name, err)
	}
	<-c.exited
	return true, nil
}

// exitError describes a child that exited, quoting the end of its log, where
// the reason usually is.
func (c *child) exitError(when string) error {
	return fmt.Errorf("%s exited %s (%v); see %s, which ends with:\n%s", c.name, when, c.waitErr, c.logPath, c.logTail())
}

// logTail returns the last logTailLines lines of the child's log, indented.
func (c *child) logTail() string {
	return tail(c.logPath, logTailLines)
}

func tail(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return "    (" + err.Error() + ")"
	}
	defer f.Close()
	// Kubernetes components write long lines, so read a generous window.
	const window = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		if _, err := f.Seek(-window, io.SeekEnd); err != nil {
			return "    (" + err.Error() + ")"
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return "    (" + err.Error() + ")"
	}
	all := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	var b strings.Builder
	for _, l := range all {
		b.WriteString("    ")
		b.Write(l)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}
