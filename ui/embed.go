// Package ui holds kargo's web UI: a React application under src/, built
// by `make ui` (Vite) into dist/, which this package embeds so that the
// kargo binary serves the UI without any file beside it. dist/ is
// committed, so that `go build` needs no Node.js; CI rebuilds it and fails
// when it differs from the sources.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Files are the built UI: index.html and assets/.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: fs.Sub cannot fail on it
	}
	return sub
}
