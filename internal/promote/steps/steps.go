// Package steps holds kargo's built-in promotion steps, one file per step
// or family, each with Kargo's name and configuration. New returns them for
// the engine (internal/promote/engine), given what they act through.
package steps

import (
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/promote/engine"
)

// Deps is what the steps act through beyond the work directory. The
// steps that need a part which is nil fail with a message saying the
// controller was started without it.
type Deps struct {
	// Egress is the controller's outbound address policy, which every
	// request of the http step goes through; nil means a policy without
	// rules, which reaches public addresses only.
	Egress *egress.Policy
	// HTTPMaxBodyBytes is the largest response the http step reads;
	// DefaultHTTPMaxBodyBytes when zero.
	HTTPMaxBodyBytes int64
}

// New returns every built-in step.
func New(d Deps) engine.Registry {
	return engine.Registry{
		"copy":                copyStep{},
		"delete":              deleteStep{},
		"yaml-update":         yamlUpdate{},
		"json-update":         jsonUpdate{},
		"kustomize-set-image": kustomizeSetImage{},
		"kustomize-build":     kustomizeBuild{},
		"helm-update-image":   helmUpdateImage{},
		"helm-update-chart":   helmUpdateChart{},
		"helm-template":       helmTemplate{},
		"http":                httpStep{egress: d.Egress, maxBody: d.HTTPMaxBodyBytes},
		"compose-output":      composeOutput{},
	}
}

// Known says whether name is a built-in step.
func Known(name string) bool {
	_, ok := New(Deps{})[name]
	return ok
}
