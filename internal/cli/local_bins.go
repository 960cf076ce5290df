package cli

import (
	"os"
	"path/filepath"
	"time"
)

// kubeBins are the binaries kargo local runs from its --bin-dir.
var kubeBins = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"}

// builtKubeBins returns the newest complete build of `make kube-bins`
// (hack/envtest-bins.sh) in its cache that holds every binary kargo local
// runs, or "" when there is none, so that bin/kargo local runs without
// --bin-dir once make run or make kube-bins has built them. Like the
// script, it marks the build as handed out, which keeps the script from
// deleting it as unused.
func builtKubeBins() string {
	root := os.Getenv("ENVTEST_BINS_CACHE")
	if root == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		root = filepath.Join(cache, "envtest-bins")
	}
	marks, _ := filepath.Glob(filepath.Join(root, "v*", ".complete"))
	newest, newestTime := "", time.Time{}
	for _, m := range marks {
		fi, err := os.Stat(m)
		if err != nil || !fi.ModTime().After(newestTime) || !hasKubeBins(filepath.Dir(m)) {
			continue
		}
		newest, newestTime = filepath.Dir(m), fi.ModTime()
	}
	if newest != "" {
		now := time.Now()
		if f, err := os.OpenFile(filepath.Join(newest, ".used"), os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
			_ = os.Chtimes(filepath.Join(newest, ".used"), now, now)
		}
	}
	return newest
}

func hasKubeBins(dir string) bool {
	for _, b := range kubeBins {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}
