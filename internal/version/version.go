// Package version reports the version of the kargo binary.
package version

import "runtime/debug"

// Version is set at build time with -ldflags "-X
// github.com/kargohq/kargo/internal/version.Version=v1.2.3". When unset, the
// module version or VCS revision recorded by the Go toolchain is used.
var Version = ""

// String returns the binary's version, or "dev" when none is known.
func String() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}
