package localcp

import "syscall"

// childAttr puts a child in its own process group, so a Ctrl-C in the
// terminal reaches only the parent, which then stops the children in order,
// and asks the kernel to kill the child if the parent dies without stopping
// it.
//
// Pdeathsig fires when the OS thread that started the child exits, not the
// process. The Go runtime only ends threads whose goroutine exits while
// locked with runtime.LockOSThread, which Start never does.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
