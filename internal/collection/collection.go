// Package collection keeps the Freight a Stage holds: one Freight per
// origin it requests (status.currentFreightByOrigin), the one most recently
// promoted (status.currentFreight) and the history of promotions
// (status.history, one entry per promotion, bounded per origin). A Stage
// with subscriptions requests Freight of any origin in a single slot, so it
// holds one Freight at a time, as it always did. The functions are pure:
// the promotion controller records with them, everything else reads.
package collection

import (
	"fmt"
	"sort"
	"strings"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/availability"
)

// Current returns the Freight st holds now, one per origin. A Stage whose
// status was written before kargo recorded Freight per origin has only
// status.currentFreight, which is then all it holds.
func Current(st *kargoapi.Stage) []kargoapi.SimpleFreight {
	if len(st.Status.CurrentFreightByOrigin) > 0 {
		return st.Status.CurrentFreightByOrigin
	}
	if st.Status.CurrentFreight != nil {
		return []kargoapi.SimpleFreight{*st.Status.CurrentFreight}
	}
	return nil
}

// Holds reports whether Freight name is one st holds now.
func Holds(st *kargoapi.Stage, name string) bool {
	for _, c := range Current(st) {
		if c.ID == name {
			return true
		}
	}
	return false
}

// slot is the Request of reqs that holds Freight of origin, or -1.
func slot(reqs []availability.Request, origin *kargoapi.FreightOrigin) int {
	return availability.RequestOf(reqs, origin)
}

// Held returns, for each of st's Requests (availability.Requests), the
// Freight st holds for it, or nil.
func Held(st *kargoapi.Stage) []*kargoapi.SimpleFreight {
	reqs := availability.Requests(st)
	out := make([]*kargoapi.SimpleFreight, len(reqs))
	cur := Current(st)
	for i := range cur {
		if s := slot(reqs, cur[i].Origin); s >= 0 && out[s] == nil {
			out[s] = &cur[i]
		}
	}
	return out
}

// With returns what st would hold once f is promoted into it: f, then the
// Freight st holds of its other origins. f replaces the Freight of its own
// origin (for a Stage with subscriptions, whatever it held).
func With(st *kargoapi.Stage, f kargoapi.SimpleFreight) []kargoapi.SimpleFreight {
	reqs := availability.Requests(st)
	s := slot(reqs, f.Origin)
	out := []kargoapi.SimpleFreight{f}
	for _, c := range Current(st) {
		if c.ID == f.ID || (s >= 0 && slot(reqs, c.Origin) == s) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// Missing returns the origins st requests by name (spec.requestedFreight)
// of which held has no Freight.
func Missing(st *kargoapi.Stage, held []kargoapi.SimpleFreight) []kargoapi.FreightOrigin {
	var out []kargoapi.FreightOrigin
	for _, o := range availability.Origins(st) {
		found := false
		for _, h := range held {
			if availability.SameOrigin(&o, h.Origin) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, o)
		}
	}
	return out
}

// Record records in st's status that f was promoted into it: f becomes its
// current Freight and replaces the Freight of its origin, and heads the
// history, which keeps at most limit entries per origin.
func Record(st *kargoapi.Stage, f kargoapi.SimpleFreight, limit int) {
	held := With(st, f)
	sort.SliceStable(held, func(i, j int) bool { return originLess(held[i].Origin, held[j].Origin) })
	cur := f
	st.Status.CurrentFreight = &cur
	st.Status.CurrentFreightByOrigin = held
	st.Status.History = bounded(availability.Requests(st), append([]kargoapi.SimpleFreight{f}, st.Status.History...), limit)
}

// bounded keeps, of history (newest first), at most limit entries per
// Request of reqs (availability.Bound).
func bounded(reqs []availability.Request, history []kargoapi.SimpleFreight, limit int) []kargoapi.SimpleFreight {
	bound := availability.NewBound(reqs, limit)
	out := history[:0:0]
	for _, h := range history {
		if bound.Take(h.Origin) {
			out = append(out, h)
		}
	}
	return out
}

// originLess orders origins by kind, then name; an unknown origin first.
func originLess(a, b *kargoapi.FreightOrigin) bool {
	switch {
	case a == nil:
		return b != nil
	case b == nil:
		return false
	case a.Kind != b.Kind:
		return a.Kind < b.Kind
	}
	return a.Name < b.Name
}

// ReadyMessage is the message of a Stage's Ready condition when the Stage
// controller has reconciled it: how many Freight are available (as far as
// status.availableFreight tells) and the Freight it holds. The Promotion
// controller writes it with a promotion's outcome, which changes the
// Freight it names, so that the Stage controller's next pass has nothing
// left to write.
func ReadyMessage(st *kargoapi.Stage) string {
	msg := fmt.Sprintf("%d Freight available", len(st.Status.AvailableFreight))
	if availability.Full(st, st.Status.AvailableFreight, availability.ListedPerOrigin) {
		// The list holds the newest of each origin: older ones may be
		// available too, and the list cannot say how many.
		msg = "at least " + msg
	}
	if len(st.Spec.RequestedFreight) > 0 {
		var held []string
		for _, c := range Current(st) {
			held = append(held, fmt.Sprintf("%s (%s) of %s", c.Alias, c.ID, describeOrigin(c.Origin)))
		}
		if len(held) > 0 {
			msg += "; current Freight is " + strings.Join(held, ", ")
		}
		return msg
	}
	if c := st.Status.CurrentFreight; c != nil {
		msg += fmt.Sprintf("; current Freight is %s (%s)", c.Alias, c.ID)
	}
	return msg
}

func describeOrigin(o *kargoapi.FreightOrigin) string {
	if o == nil {
		return "unknown origin"
	}
	return string(o.Kind) + " " + o.Name
}
