// Package approval decides whether a Stage's approval policies are met for
// a Freight: which requirements apply to a Stage (its own spec.approval and
// each ApprovalPolicy of the project that selects it), and which of the
// Freight's recorded approvals count for each. It is pure: the Promotion
// controller gives it what it read, and the admission webhooks ask it
// which policies select a Stage.
package approval

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Requirement is one approval requirement that applies to a Stage, with
// where it comes from.
type Requirement struct {
	kargoapi.ApprovalRequirement
	// Source names it in messages: "Stage prod" or "ApprovalPolicy
	// release".
	Source string
}

// Selects says whether the policy's selector selects st. A malformed
// selector or glob selects nothing here; the webhook refuses them.
func Selects(sel kargoapi.ApprovalStageSelector, st *kargoapi.Stage) bool {
	for _, n := range sel.Names {
		if ok, err := path.Match(n, st.Name); err == nil && ok {
			return true
		}
	}
	if sel.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(sel.Selector)
		if err == nil && s.Matches(labels.Set(st.Labels)) {
			return true
		}
	}
	return false
}

// Requirements returns the requirements that apply to st: its own
// spec.approval, then each policy that selects it, by name.
func Requirements(st *kargoapi.Stage, policies []kargoapi.ApprovalPolicy) []Requirement {
	var out []Requirement
	if st.Spec.Approval != nil {
		out = append(out, Requirement{ApprovalRequirement: *st.Spec.Approval, Source: "Stage " + st.Name})
	}
	sorted := slices.Clone(policies)
	slices.SortFunc(sorted, func(a, b kargoapi.ApprovalPolicy) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range sorted {
		if p.Namespace == st.Namespace && Selects(p.Spec.Stages, st) {
			out = append(out, Requirement{ApprovalRequirement: p.Spec.ApprovalRequirement, Source: "ApprovalPolicy " + p.Name})
		}
	}
	return out
}

// serviceAccountPrefix starts the username of every ServiceAccount.
const serviceAccountPrefix = "system:serviceaccount:"

// Counts says whether a counts toward r for a Promotion that promoter
// created, at now, and why not when it does not.
func Counts(r kargoapi.ApprovalRequirement, a kargoapi.FreightApproval, promoter string, now time.Time) (bool, string) {
	switch {
	case a.User == "":
		return false, "no approver recorded"
	case a.User == promoter:
		return false, a.User + " created the Promotion, and nobody approves their own promotion"
	case r.ExpireAfter != nil && !now.Before(a.At.Add(r.ExpireAfter.Duration)):
		return false, fmt.Sprintf("%s's approval of %s expired after %s", a.User, a.At.UTC().Format(time.RFC3339), r.ExpireAfter.Duration)
	}
	if slices.Contains(r.Users, a.User) {
		return true, ""
	}
	if strings.HasPrefix(a.User, serviceAccountPrefix) {
		return false, a.User + " is a ServiceAccount, which counts only when named under users"
	}
	if len(r.Users) == 0 && len(r.Groups) == 0 {
		return true, ""
	}
	for _, g := range a.Groups {
		if slices.Contains(r.Groups, g) {
			return true, ""
		}
	}
	return false, a.User + " is not one of the approvers the policy names"
}

// Unmet is one requirement that is not met.
type Unmet struct {
	Requirement
	// Have is how many approvals count; Requirement.Required are needed.
	Have int
}

// required is r's number of approvals, 1 when unset.
func required(r kargoapi.ApprovalRequirement) int {
	if r.Required < 1 {
		return 1
	}
	return int(r.Required)
}

// Check returns the requirements that approvals (a Freight's, for the
// Stage) do not meet for a Promotion that promoter created, at now. Each
// user counts once per requirement.
func Check(reqs []Requirement, approvals []kargoapi.FreightApproval, promoter string, now time.Time) []Unmet {
	var out []Unmet
	for _, r := range reqs {
		seen := map[string]bool{}
		for _, a := range approvals {
			if ok, _ := Counts(r.ApprovalRequirement, a, promoter, now); ok {
				seen[a.User] = true
			}
		}
		if len(seen) < required(r.ApprovalRequirement) {
			out = append(out, Unmet{Requirement: r, Have: len(seen)})
		}
	}
	return out
}

// NotCounted says, of each approval that counts toward none of unmet's
// requirements, why not, so that an approver whose approval was given but
// does not help learns it.
func NotCounted(unmet []Unmet, approvals []kargoapi.FreightApproval, promoter string, now time.Time) []string {
	var out []string
	for _, a := range approvals {
		counted, why := false, ""
		for _, u := range unmet {
			ok, w := Counts(u.ApprovalRequirement, a, promoter, now)
			if ok {
				counted = true
				break
			}
			if why == "" {
				why = w
			}
		}
		if !counted && why != "" {
			out = append(out, why)
		}
	}
	return out
}

// Describe says what unmet lacks, in a sentence a user can act on: how
// many more approvals, from whom, that the promoter's own do not count,
// and why the approvals given that do not count (notCounted) do not.
func Describe(unmet []Unmet, notCounted []string, promoter string) string {
	parts := make([]string, 0, len(unmet))
	for _, u := range unmet {
		more := required(u.ApprovalRequirement) - u.Have
		noun := "approval"
		if more > 1 {
			noun = "approvals"
		}
		from := "anyone with the approve verb on the Stage"
		var names []string
		if len(u.Users) > 0 {
			names = append(names, "user "+strings.Join(u.Users, ", "))
		}
		if len(u.Groups) > 0 {
			names = append(names, "group "+strings.Join(u.Groups, ", "))
		}
		if len(names) > 0 {
			from = strings.Join(names, " or ")
		}
		s := fmt.Sprintf("%d more %s from %s (%s asks for %d", more, noun, from, u.Source, required(u.ApprovalRequirement))
		if u.ExpireAfter != nil {
			s += fmt.Sprintf(", each counting for %s", u.ExpireAfter.Duration)
		}
		parts = append(parts, s+")")
	}
	msg := "Waiting for approval: " + strings.Join(parts, "; ")
	if promoter != "" {
		msg += fmt.Sprintf("; %s's own approval does not count", promoter)
	}
	if len(notCounted) > 0 {
		msg += "; not counted: " + strings.Join(notCounted, "; ")
	}
	return msg + "; approve with `kargo approve --freight F --stage S --comment WHY`"
}
