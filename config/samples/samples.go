// Package samples embeds the seed pages' manifests (seeds/), which tests
// apply unchanged and `kargo local --demo` applies to its kargo-demo
// project.
package samples

import "embed"

// Seeds holds seeds/*.yaml.
//
//go:embed seeds/*.yaml
var Seeds embed.FS
