// Package steps holds kargo's built-in promotion steps, one file per step
// or family, each with Kargo's name and configuration. New returns them for
// the engine (internal/promote/engine), given what they act through.
package steps

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/internal/argocd"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/forge"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/promote"
	"github.com/kargohq/kargo/internal/promote/engine"
)

// Deps is what the steps act through beyond the work directory. The
// steps that need a part which is nil fail with a message saying the
// controller was started without it.
type Deps struct {
	// ArgoCD updates Applications (argocd-update).
	ArgoCD *argocd.Updater
	// Forges open, read and merge pull requests (git-open-pr,
	// git-wait-for-pr, git-merge-pr).
	Forges *forge.Forges
	// Git makes, commits and pushes the work trees of the git steps,
	// through the controller's shared mirrors, outbound address policy
	// and branch locks.
	Git *git.Cache
	// Credentials are the projects' credential Secrets: the git steps
	// read and push with the Promotion's project's, never the
	// controller's.
	Credentials credentials.Store
	// Client reads Stages and Warehouses, for git-push's rules: two
	// Stages never write one branch, and a Stage never writes a branch
	// its Freight comes from.
	Client client.Reader
	// Metadata writes the status.metadata of the project's Stages and
	// Freight (set-metadata).
	Metadata MetadataClient
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
	m := newMechanisms(d)
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
		"set-metadata":        setMetadata{client: d.Metadata},
		argocd.StepName:       argocdUpdate{updater: d.ArgoCD},
		"git-open-pr":         openPR{forges: d.Forges},
		"git-wait-for-pr":     waitForPR{forges: d.Forges},
		"git-merge-pr":        mergePR{forges: d.Forges},
		"git-clone":           gitClone{d},
		"git-clear":           gitClear{},
		"git-commit":          gitCommit{d},
		"git-push":            gitPush{d},
		// The steps a Stage's promotionMechanisms run as, which no
		// promotionTemplate names (Known).
		promote.StepCheck:        mechanismsCheck{m},
		promote.StepGitUpdate:    mechanismsGitUpdate{m},
		promote.StepArgoCDUpdate: mechanismsArgoCDUpdate{m},
	}
}

// Known says whether name is a built-in step that a promotionTemplate or a
// PromotionTask may use: every one but the steps of promotionMechanisms,
// which apply the mechanisms of a Stage, and a Stage with a template has
// none.
func Known(name string) bool {
	_, ok := New(Deps{})[name]
	return ok && !promote.IsMechanismStep(name)
}
