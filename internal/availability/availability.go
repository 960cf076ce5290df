// Package availability decides which Freight a Stage may receive. Every
// form of a Stage's spec comes to a list of Requests (see Requests): one per
// requested origin, or a single one holding Freight of any origin for the
// subscriptions forms. Freight is available when a Request holds its origin
// and it comes directly from that origin (the Warehouse the Stage
// subscribes to, or, for a Stage with its own repository subscriptions, the
// Stage itself), or it is verified (and has soaked) in one, or with
// availabilityStrategy All every one, of the Request's upstream Stages, or
// it is manually approved for the Stage. The functions are pure, so the
// promotion controller and the Stage controller decide the same way.
package availability

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
)

// Available reports whether st may receive f now. It is Check without the
// explanation, for the Stage controller, which asks it of every Freight of
// a project on every pass.
func Available(st *kargoapi.Stage, f *kargoapi.Freight, now time.Time) bool {
	return available(st, Requests(st), f, now)
}

// available is Available with st's Requests worked out once.
func available(st *kargoapi.Stage, reqs []Request, f *kargoapi.Freight, now time.Time) bool {
	i := RequestOf(reqs, f.Origin)
	if i < 0 {
		return false
	}
	if _, ok := f.Status.ApprovedFor[st.Name]; ok {
		return true
	}
	r := &reqs[i]
	if r.Direct != nil && SameOrigin(r.Direct, f.Origin) {
		return true
	}
	if len(r.Upstreams) == 0 {
		return false
	}
	for _, u := range r.Upstreams {
		v, ok := f.Status.VerifiedIn[u.Name]
		passed := ok && soakLeft(u, v, now) <= 0
		if passed && !r.All {
			return true
		}
		if !passed && r.All {
			return false
		}
	}
	return r.All
}

// Concerns reports whether f is available to st or will be once it has
// soaked: whether a change to f can change st's available Freight.
func Concerns(st *kargoapi.Stage, f *kargoapi.Freight) bool {
	return Available(st, f, endOfTime)
}

// endOfTime is a moment after every soak time has passed.
var endOfTime = time.Date(9999, time.January, 1, 0, 0, 0, 0, time.UTC)

// Check reports whether st may receive f now and, when it may not, why, in
// a sentence that says what would make it available.
func Check(st *kargoapi.Stage, f *kargoapi.Freight, now time.Time) (bool, string) {
	reqs := Requests(st)
	if available(st, reqs, f, now) {
		return true, ""
	}
	if len(st.Spec.RequestedFreight) > 0 {
		return false, checkRequested(st, reqs, f, now)
	}
	subs := st.Spec.Subscriptions
	switch {
	case subs == nil:
		return false, fmt.Sprintf("Stage %s subscribes to nothing, so only Freight approved for it is available; approve %s for %s first", st.Name, f.Name, st.Name)
	case subs.Warehouse != "":
		return false, fmt.Sprintf("Freight %s comes from %s, not from Warehouse %s that Stage %s subscribes to, and is not approved for %s", name(f), origin(f), subs.Warehouse, st.Name, st.Name)
	case subs.Repos != nil:
		return false, fmt.Sprintf("Freight %s was not discovered by Stage %s's own subscriptions (it comes from %s) and is not approved for %s", name(f), st.Name, origin(f), st.Name)
	}
	return false, upstreamWhy(st, reqs[0], f, now)
}

// checkRequested explains why f is not available to st, which has
// requestedFreight.
func checkRequested(st *kargoapi.Stage, reqs []Request, f *kargoapi.Freight, now time.Time) string {
	i := RequestOf(reqs, f.Origin)
	if i < 0 {
		var want []string
		for _, r := range reqs {
			want = append(want, string(r.Origin.Kind)+" "+r.Origin.Name)
		}
		return fmt.Sprintf("Freight %s comes from %s, which Stage %s does not request (it requests Freight from %s); request that origin in spec.requestedFreight, or promote Freight of a requested origin",
			name(f), origin(f), st.Name, strings.Join(want, ", "))
	}
	r := reqs[i]
	if len(r.Upstreams) == 0 {
		return fmt.Sprintf("Stage %s requests Freight from %s through no source that %s came by and %s is not approved for %s; approve it for %s first",
			st.Name, origin(f), name(f), f.Name, st.Name, st.Name)
	}
	return upstreamWhy(st, r, f, now)
}

// upstreamWhy explains why f, held by r, is not available through r's
// upstream Stages.
func upstreamWhy(st *kargoapi.Stage, r Request, f *kargoapi.Freight, now time.Time) string {
	var ups, soaking []string
	for _, u := range r.Upstreams {
		v, ok := f.Status.VerifiedIn[u.Name]
		if !ok {
			ups = append(ups, u.Name)
			continue
		}
		if v.VerifiedAt == nil {
			if u.RequiredSoakTime != nil && u.RequiredSoakTime.Duration > 0 {
				soaking = append(soaking, fmt.Sprintf("it was verified in %s at an unknown time, so its soak time of %s cannot start; re-verify it in %s", u.Name, u.RequiredSoakTime.Duration, u.Name))
			}
			continue
		}
		if left := soakLeft(u, v, now); left > 0 {
			soaking = append(soaking, fmt.Sprintf("it has soaked in %s for %s of the required %s (available in %s)",
				u.Name, (u.RequiredSoakTime.Duration-left).Round(time.Second), u.RequiredSoakTime.Duration, left.Round(time.Second)))
		}
	}
	if r.All && len(ups) > 0 {
		why := fmt.Sprintf("Freight %s must be verified in every upstream Stage (availabilityStrategy All) and is not verified in %s, nor approved for %s; promote it through %s first, or approve it for %s",
			name(f), strings.Join(ups, " and "), st.Name, strings.Join(ups, " and "), st.Name)
		if len(soaking) > 0 {
			why += "; besides, " + strings.Join(soaking, "; ")
		}
		return why
	}
	if len(soaking) > 0 {
		return fmt.Sprintf("Freight %s is verified upstream but still soaking: %s", name(f), strings.Join(soaking, "; "))
	}
	return fmt.Sprintf("Freight %s is not verified in upstream Stage %s and is not approved for %s; promote it through %s first, or approve it for %s",
		name(f), strings.Join(ups, " or "), st.Name, strings.Join(ups, " or "), st.Name)
}

// soakLeft is how much longer f must stay verified in upstream u before it
// is available; zero or less when it has soaked enough. Freight verified at
// an unknown time never has: a soak time is a safety margin, and guessing
// that it elapsed would remove it.
func soakLeft(u kargoapi.StageSubscription, v kargoapi.VerifiedStage, now time.Time) time.Duration {
	if u.RequiredSoakTime == nil || u.RequiredSoakTime.Duration <= 0 {
		return 0
	}
	if v.VerifiedAt == nil {
		return u.RequiredSoakTime.Duration
	}
	return v.VerifiedAt.Add(u.RequiredSoakTime.Duration).Sub(now)
}

// NextSoakEnd returns the earliest moment after now at which Freight among
// all finishes soaking for st, so that the Stage can be looked at again
// then; ok is false when nothing is soaking.
func NextSoakEnd(st *kargoapi.Stage, all []kargoapi.Freight, now time.Time) (next time.Time, ok bool) {
	reqs := Requests(st)
	for _, r := range reqs {
		for _, u := range r.Upstreams {
			if u.RequiredSoakTime == nil || u.RequiredSoakTime.Duration <= 0 {
				continue
			}
			for i := range all {
				v, verified := all[i].Status.VerifiedIn[u.Name]
				if !verified || v.VerifiedAt == nil || !r.Holds(all[i].Origin) {
					continue
				}
				left := soakLeft(u, v, now)
				if left <= 0 {
					continue
				}
				if end := now.Add(left); !ok || end.Before(next) {
					next, ok = end, true
				}
			}
		}
	}
	return next, ok
}

// Newest returns the newest of the Freight among all (Freight of st's
// namespace) that st may receive at now and that keep accepts, or nil. It
// looks at every Freight, not only the first page of status.availableFreight,
// so that Freight keep refuses cannot crowd out what it accepts.
func Newest(st *kargoapi.Stage, all []kargoapi.Freight, now time.Time, keep func(*kargoapi.Freight) bool) *kargoapi.Freight {
	newest := NewestPerRequest(st, all, now, keep)
	var out *kargoapi.Freight
	for _, f := range newest {
		if f != nil && (out == nil || newer(f, out)) {
			out = f
		}
	}
	return out
}

// NewestPerRequest returns, for each of st's Requests (see Requests), the
// newest Freight among all that it holds, that st may receive at now and
// that keep accepts, or nil.
func NewestPerRequest(st *kargoapi.Stage, all []kargoapi.Freight, now time.Time, keep func(*kargoapi.Freight) bool) []*kargoapi.Freight {
	reqs := Requests(st)
	newest := make([]*kargoapi.Freight, len(reqs))
	for i := range all {
		f := &all[i]
		r := RequestOf(reqs, f.Origin)
		if r < 0 || !keep(f) || !available(st, reqs, f, now) {
			continue
		}
		if newest[r] == nil || newer(f, newest[r]) {
			newest[r] = f
		}
	}
	return newest
}

// newer says whether a is newer than b: discovered later, or, discovered at
// the same moment, first by name.
func newer(a, b *kargoapi.Freight) bool {
	ta, tb := freight.DiscoveredAt(a), freight.DiscoveredAt(b)
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a.Name < b.Name
}

// ListedPerOrigin bounds a Stage's status.availableFreight: the newest ten
// Freight of each requested origin (see Bound), as Kargo's own stacks keep
// ten. The list is a view; whether a Freight may be promoted is decided
// from all of the project's Freight (Check), and the UI and the CLI list
// Freight themselves. Bounded, a Stage stays small however long it lives,
// and so do the controller's cache of 2,000 Stages and each write of a
// Stage's status.
const ListedPerOrigin = 10

// Bound counts the entries of a Stage's list, newest first, against a
// limit per Request of the Stage (one per requested origin; a Stage with
// subscriptions has one for all), and, for Freight of an origin no Request
// holds, per origin. The Stage's history and its available Freight are
// bounded by it, so that an origin whose Freight come seldom keeps its
// place however often another's come.
type Bound struct {
	reqs   []Request
	limit  int
	counts map[string]int
	full   bool
}

// NewBound returns a Bound of limit entries per Request of reqs.
func NewBound(reqs []Request, limit int) *Bound {
	return &Bound{reqs: reqs, limit: limit, counts: map[string]int{}}
}

// Take reports whether one more entry of origin fits, and counts it if so.
func (b *Bound) Take(origin *kargoapi.FreightOrigin) bool {
	key := "request/" + strconv.Itoa(RequestOf(b.reqs, origin))
	if RequestOf(b.reqs, origin) < 0 {
		key = "origin/"
		if origin != nil {
			key += string(origin.Kind) + "/" + origin.Name
		}
	}
	if b.counts[key] >= b.limit {
		b.full = true
		return false
	}
	b.counts[key]++
	b.full = b.full || b.counts[key] == b.limit
	return true
}

// Full reports whether some Request's (or origin's) share has reached the
// limit: older entries of it may exist that the list does not hold.
func (b *Bound) Full() bool { return b.full }

// List returns the Freight st may receive at now among all (Freight of
// st's namespace), newest first, at most perOrigin of each requested
// origin (Bound). It only reads all, and returns nothing that shares
// memory with it.
func List(st *kargoapi.Stage, all []kargoapi.Freight, perOrigin int, now time.Time) []kargoapi.SimpleFreight {
	reqs := Requests(st)
	var avail []*kargoapi.Freight
	for i := range all {
		if available(st, reqs, &all[i], now) {
			avail = append(avail, &all[i])
		}
	}
	sort.SliceStable(avail, func(i, j int) bool { return newer(avail[i], avail[j]) })
	bound := NewBound(reqs, perOrigin)
	var out []kargoapi.SimpleFreight
	for _, f := range avail {
		if !bound.Take(f.Origin) {
			continue
		}
		// A copy: all may be the controller's cache, read without copying.
		s := freight.Simple(f)
		out = append(out, *s.DeepCopy())
	}
	return out
}

// Full reports whether list, st's status.availableFreight, holds
// perOrigin Freight of some requested origin, so that older Freight of it
// may be available and not listed.
func Full(st *kargoapi.Stage, list []kargoapi.SimpleFreight, perOrigin int) bool {
	bound := NewBound(Requests(st), perOrigin)
	for i := range list {
		bound.Take(list[i].Origin)
	}
	return bound.Full()
}

func name(f *kargoapi.Freight) string {
	if f.Alias != "" {
		return f.Alias + " (" + f.Name + ")"
	}
	return f.Name
}

func origin(f *kargoapi.Freight) string {
	if f.Origin == nil {
		return "no known origin"
	}
	return string(f.Origin.Kind) + " " + f.Origin.Name
}
