// Package gc deletes old Freight and Promotions by policy: per Warehouse (or
// repository-subscribed Stage) it keeps the newest Freight, per Stage the
// newest finished Promotions, and always whatever is still in use. The
// decisions are the pure functions of this file; collector.go runs them
// periodically on the leader.
package gc

import (
	"cmp"
	"slices"
	"strconv"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
)

// The installation's defaults.
const (
	// DefaultKeepFreight is how many Freight are kept per origin.
	DefaultKeepFreight = 100
	// DefaultKeepPromotions is how many finished Promotions are kept per
	// Stage.
	DefaultKeepPromotions = 100
)

// Policy says how much history garbage collection keeps.
type Policy struct {
	// KeepFreight is how many Freight to keep per origin (Warehouse or
	// repository-subscribed Stage), newest first, besides those in use.
	KeepFreight int
	// KeepPromotions is how many finished Promotions to keep per Stage,
	// newest first; Promotions that have not ended are always kept.
	KeepPromotions int
}

// ForProject is the policy for a project: p, with what the Project's
// annotations override. It also returns the annotations whose value is
// not a positive integer, which are ignored.
func (p Policy) ForProject(project *kargoapi.Project) (Policy, []string) {
	var invalid []string
	override := func(key string, into *int) {
		raw, ok := project.Annotations[key]
		if !ok {
			return
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			invalid = append(invalid, key)
			return
		}
		*into = n
	}
	override(kargoapi.KeepFreightAnnotationKey, &p.KeepFreight)
	override(kargoapi.KeepPromotionsAnnotationKey, &p.KeepPromotions)
	return p, invalid
}

// FreightInUse is the set of Freight names that must not be deleted: a
// Stage's current Freight or one in its history, Freight approved for any
// Stage, and Freight that a Promotion which has not ended is moving.
func FreightInUse(stages []kargoapi.Stage, promotions []kargoapi.Promotion, all []kargoapi.Freight) map[string]bool {
	used := map[string]bool{}
	for _, s := range stages {
		if s.Status.CurrentFreight != nil {
			used[s.Status.CurrentFreight.ID] = true
		}
		for _, c := range s.Status.CurrentFreightByOrigin {
			used[c.ID] = true
		}
		for _, h := range s.Status.History {
			used[h.ID] = true
		}
	}
	for _, p := range promotions {
		if !p.Status.Phase.IsTerminal() {
			used[p.Spec.Freight] = true
		}
	}
	for _, f := range all {
		if len(f.Status.ApprovedFor) > 0 {
			used[f.Name] = true
		}
	}
	return used
}

// originKey groups Freight by what produced them.
func originKey(f *kargoapi.Freight) string {
	if f.Origin == nil {
		return ""
	}
	return string(f.Origin.Kind) + "/" + f.Origin.Name
}

// FreightToDelete returns the Freight to delete, grouped by origin: all but
// the newest keep of each origin, leaving out those in use.
func FreightToDelete(all []kargoapi.Freight, inUse map[string]bool, keep int) map[string][]string {
	byOrigin := map[string][]*kargoapi.Freight{}
	for i := range all {
		f := &all[i]
		byOrigin[originKey(f)] = append(byOrigin[originKey(f)], f)
	}
	out := map[string][]string{}
	for origin, list := range byOrigin {
		slices.SortFunc(list, func(a, b *kargoapi.Freight) int {
			if c := freight.DiscoveredAt(b).Compare(freight.DiscoveredAt(a)); c != 0 {
				return c
			}
			return cmp.Compare(a.Name, b.Name)
		})
		for _, f := range list[min(keep, len(list)):] {
			if !inUse[f.Name] {
				out[origin] = append(out[origin], f.Name)
			}
		}
	}
	return out
}

// PromotionsToDelete returns the Promotions to delete, grouped by Stage:
// all but the newest keep finished Promotions of each Stage. Promotions
// that have not ended are neither deleted nor counted.
func PromotionsToDelete(all []kargoapi.Promotion, keep int) map[string][]string {
	byStage := map[string][]*kargoapi.Promotion{}
	for i := range all {
		p := &all[i]
		if p.Status.Phase.IsTerminal() {
			byStage[p.Spec.Stage] = append(byStage[p.Spec.Stage], p)
		}
	}
	out := map[string][]string{}
	for stage, list := range byStage {
		slices.SortFunc(list, func(a, b *kargoapi.Promotion) int {
			if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
				return c
			}
			return cmp.Compare(b.Name, a.Name)
		})
		for _, p := range list[min(keep, len(list)):] {
			out[stage] = append(out[stage], p.Name)
		}
	}
	return out
}
