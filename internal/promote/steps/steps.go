// Package steps holds kargo's built-in promotion steps, one file per step
// or family, each with Kargo's name and configuration. Builtin returns them
// for the engine (internal/promote/engine).
package steps

import (
	"github.com/kargohq/kargo/internal/promote/engine"
)

// Builtin returns the steps that need nothing but the work directory.
func Builtin() engine.Registry {
	return engine.Registry{
		"copy":                copyStep{},
		"delete":              deleteStep{},
		"yaml-update":         yamlUpdate{},
		"kustomize-set-image": kustomizeSetImage{},
		"compose-output":      composeOutput{},
	}
}

// Known says whether name is a built-in step.
func Known(name string) bool {
	_, ok := Builtin()[name]
	return ok
}
