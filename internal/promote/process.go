package promote

import (
	"fmt"
	"strconv"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// The steps a Stage's promotionMechanisms run as (see Process). They read
// the mechanisms from the Stage the Promotion promotes into, so they have
// no use in a promotionTemplate (a Stage has one or the other), where
// admission refuses them.
const (
	// StepCheck makes every check that comes before a write (Check).
	StepCheck = "mechanisms-check"
	// StepGitUpdate applies one gitRepoUpdate (UpdateRepo); its
	// configuration names it: {"index": N}.
	StepGitUpdate = "mechanisms-git-update"
	// StepArgoCDUpdate applies the argoCDAppUpdates (UpdateApps).
	StepArgoCDUpdate = "mechanisms-argocd-update"
)

// MaxSyncWait is how long a promotion by promotionMechanisms waits, from
// the Promotion's start, for a sync Argo CD is running on one of its
// Applications to end before it gives up, Errored: a sync stuck longer (a
// hook that never completes, say) needs a person.
const MaxSyncWait = 15 * time.Minute

// Process returns the steps that promote by a Stage's promotionMechanisms,
// in the order the mechanisms always ran: a check of everything that can
// be checked before a write, aliased "check"; one step per gitRepoUpdate,
// aliased "git-update-N" for gitRepoUpdates[N]; and one for all the
// argoCDAppUpdates, aliased "argocd-update". The list depends on the
// number of updates only; the steps read the updates themselves from the
// Stage when they run. A Stage without mechanisms has no steps.
func Process(pm *kargoapi.PromotionMechanisms) []kargoapi.PromotionStep {
	if pm == nil || len(pm.GitRepoUpdates)+len(pm.ArgoCDAppUpdates) == 0 {
		return nil
	}
	steps := []kargoapi.PromotionStep{{Uses: StepCheck, As: "check"}}
	for i := range pm.GitRepoUpdates {
		steps = append(steps, kargoapi.PromotionStep{
			Uses:   StepGitUpdate,
			As:     GitUpdateAlias(i),
			Config: &kargoapi.StepConfig{Raw: []byte(`{"index":` + strconv.Itoa(i) + `}`)},
		})
	}
	if len(pm.ArgoCDAppUpdates) > 0 {
		steps = append(steps, kargoapi.PromotionStep{Uses: StepArgoCDUpdate, As: "argocd-update"})
	}
	return steps
}

// GitUpdateAlias is the alias of the step of gitRepoUpdates[i].
func GitUpdateAlias(i int) string { return fmt.Sprintf("git-update-%d", i) }

// IsMechanismStep says whether a step name is one of the steps of Process.
func IsMechanismStep(uses string) bool {
	switch uses {
	case StepCheck, StepGitUpdate, StepArgoCDUpdate:
		return true
	}
	return false
}
