//go:build !unix

package localcp

import (
	"errors"
	"os"
	"runtime"
	"syscall"
)

var errLocked = errors.New("locked")

var errUnsupported = errors.New("a local control plane is not supported on " + runtime.GOOS)

func lockFile(*os.File) error { return errUnsupported }

func signalGroup(int, syscall.Signal) error { return errUnsupported }

func childAttr() *syscall.SysProcAttr { return nil }
