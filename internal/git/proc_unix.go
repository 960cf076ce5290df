//go:build unix

package git

import (
	"os/exec"
	"syscall"
)

// killProcessGroup makes cancellation kill git's children too: git fetch
// runs remote helpers and index-pack, which would otherwise keep running
// and keep the output pipes open.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
