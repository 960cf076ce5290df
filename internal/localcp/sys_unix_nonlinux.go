//go:build unix && !linux

package localcp

import "syscall"

// childAttr puts a child in its own process group, so a Ctrl-C in the
// terminal reaches only the parent, which then stops the children in order.
// Only Linux can also tie the child's life to the parent's.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
