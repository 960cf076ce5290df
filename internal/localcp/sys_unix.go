//go:build unix

package localcp

import (
	"errors"
	"os"
	"syscall"
)

// errLocked reports that another process holds the data dir lock.
var errLocked = errors.New("locked")

// lockFile takes an exclusive advisory lock on f without waiting. The kernel
// drops the lock when the process exits, so a crash never leaves a stale one.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}

// signalGroup sends sig to the process group led by pid; children are started
// as group leaders, so this also reaches anything they spawned.
func signalGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
