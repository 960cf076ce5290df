//go:build !unix

package git

import "os/exec"

// killProcessGroup is a no-op where process groups do not exist; WaitDelay
// still bounds how long a cancelled command can hold its pipes.
func killProcessGroup(*exec.Cmd) {}
