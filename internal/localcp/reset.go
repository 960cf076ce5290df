package localcp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Reset deletes a data directory, so that the next Start begins from an
// empty installation. It refuses a directory that is in use (a control
// plane holds its lock) and one that does not look like a data directory
// (no lock file, PKI or etcd data in it), so that a mistyped --data-dir
// deletes nothing else. A directory that does not exist is already reset.
func Reset(dir string) error {
	if dir == "" {
		return errors.New("reset: no data dir")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reset %s: %w", dir, err)
	}
	if len(entries) > 0 && !isDataDir(dir) {
		return fmt.Errorf("reset: %s does not look like a kargo local data dir (no lock, pki or etcd in it); not deleting it", dir)
	}
	if len(entries) > 0 {
		lock, err := lockDataDir(dir)
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		// The lock is held until everything is gone: no Start can begin
		// on a half-deleted directory.
		defer lock.Close()
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("reset %s: %w", dir, err)
	}
	return nil
}

func isDataDir(dir string) bool {
	for _, marker := range []string{"lock", "pki", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
			return true
		}
	}
	return false
}
