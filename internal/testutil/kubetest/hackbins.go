package kubetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// HackBuilt returns what a build script of hack/ prints (the folder or file
// of a real part it builds from source and caches), or, when the
// environment variable env is set, its value, after checking that it holds
// each of want (paths relative to it; none checks the value itself). The
// scripts cache by a hash of their inputs: a hit takes milliseconds, a cold
// build minutes. scriptEnv is added to the script's environment.
func HackBuilt(env, script string, want []string, scriptEnv ...string) (string, error) {
	if v := os.Getenv(env); v != "" {
		if len(want) == 0 {
			want = []string{""}
		}
		for _, w := range want {
			if _, err := os.Stat(filepath.Join(v, w)); err != nil {
				return "", fmt.Errorf("%s=%s has no %s: unset it to build it, or point it at what hack/%s printed", env, v, cmp(w, "such file"), script)
			}
		}
		return v, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, "hack", script)
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), scriptEnv...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("run %s: %w", path, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func cmp(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}
