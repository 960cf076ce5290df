package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// runningLocal is what a running kargo local records about itself, so that
// commands such as `kargo local demo publish` find it without being told
// its data directory.
type runningLocal struct {
	PID     int    `json:"pid"`
	DataDir string `json:"dataDir"`
	API     string `json:"api"`
	Demo    bool   `json:"demo"`
}

// runningDir is where running kargo locals record themselves: "running"
// beside the default data directory ($XDG_STATE_HOME/kargo/running, or
// ~/.local/state/kargo/running), one file per process.
func runningDir() string { return filepath.Join(filepath.Dir(defaultDataDir()), "running") }

// recordRunning records r in runningDir until remove is called, which a
// clean exit does; a record left by a process that died is recognised as
// stale and ignored.
func recordRunning(r runningLocal) (remove func(), err error) {
	dir := runningDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("record the running kargo local: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, strconv.Itoa(r.PID)+".json")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("record the running kargo local: %w", err)
	}
	return func() { _ = os.Remove(path) }, nil
}

// findRunning returns the kargo locals running now, from their records;
// it deletes the records of processes that are gone.
func findRunning() ([]runningLocal, error) {
	dir := runningDir()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find running kargo locals: %w", err)
	}
	var out []runningLocal
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var r runningLocal
		if json.Unmarshal(b, &r) != nil || !stillRunning(r) {
			_ = os.Remove(path)
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// stillRunning says whether the record's process runs, and is the kargo
// local of its data directory: the data directory's lock names its pid, so
// a pid taken since by another process does not count.
func stillRunning(r runningLocal) bool {
	if r.PID <= 0 {
		return false
	}
	if err := syscall.Kill(r.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	lock, err := os.ReadFile(filepath.Join(r.DataDir, "lock"))
	return err == nil && strings.TrimSpace(string(lock)) == strconv.Itoa(r.PID)
}

// runningDemoDataDir finds the data directory of the one kargo local
// --demo that runs, for commands given no --data-dir. With none running it
// returns the default data directory, whose state says the rest.
func runningDemoDataDir() (string, error) {
	running, err := findRunning()
	if err != nil {
		return "", err
	}
	var demos []string
	for _, r := range running {
		if r.Demo {
			demos = append(demos, r.DataDir)
		}
	}
	switch len(demos) {
	case 0:
		return defaultDataDir(), nil
	case 1:
		return demos[0], nil
	}
	return "", usageError{fmt.Errorf("several kargo local --demo are running, on %s: say which with --data-dir", strings.Join(demos, " and "))}
}
