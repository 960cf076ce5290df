package availability

import (
	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Request is one kind of Freight a Stage holds, in the one form every way of
// writing a Stage's spec comes to: spec.requestedFreight gives one Request
// per origin; each form of spec.subscriptions (a Warehouse, the Stage's own
// repositories, upstream Stages, or nothing) gives a single Request with no
// origin, which holds one Freight of any origin at a time.
type Request struct {
	// Origin is the origin whose Freight the Request holds; nil holds
	// Freight of any origin (the subscriptions forms).
	Origin *kargoapi.FreightOrigin
	// Direct is the origin whose own Freight is available at once; nil
	// when the Freight must come through upstream Stages (or approval).
	Direct *kargoapi.FreightOrigin
	// Upstreams are the Stages the Freight may come through, each with its
	// soak time.
	Upstreams []kargoapi.StageSubscription
	// All requires verification in every upstream Stage rather than in one.
	All bool
}

// Holds reports whether Freight of origin is of the kind r holds: of r's
// origin, or any Freight for a Request without one.
func (r Request) Holds(origin *kargoapi.FreightOrigin) bool {
	return r.Origin == nil || SameOrigin(r.Origin, origin)
}

// SameOrigin says whether a and b name the same origin; an unknown origin
// is the same as no other.
func SameOrigin(a, b *kargoapi.FreightOrigin) bool {
	return a != nil && b != nil && a.Kind == b.Kind && a.Name == b.Name
}

// Requests returns st's Requests, in spec order. A Stage without
// subscriptions or requestedFreight has one Request with no sources: only
// Freight approved for it is available.
func Requests(st *kargoapi.Stage) []Request {
	if rf := st.Spec.RequestedFreight; len(rf) > 0 {
		out := make([]Request, len(rf))
		for i := range rf {
			o := rf[i].Origin
			r := Request{Origin: &o, All: rf[i].Sources.AvailabilityStrategy == kargoapi.AvailabilityStrategyAll}
			if rf[i].Sources.Direct {
				r.Direct = &o
			}
			for _, s := range rf[i].Sources.Stages {
				r.Upstreams = append(r.Upstreams, kargoapi.StageSubscription{Name: s, RequiredSoakTime: rf[i].Sources.RequiredSoakTime})
			}
			out[i] = r
		}
		return out
	}
	subs := st.Spec.Subscriptions
	switch {
	case subs == nil:
		return []Request{{}}
	case subs.Warehouse != "":
		return []Request{{Direct: &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: subs.Warehouse}}}
	case subs.Repos != nil:
		return []Request{{Direct: &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginStage, Name: st.Name}}}
	}
	return []Request{{Upstreams: subs.UpstreamStages}}
}

// RequestOf returns the index of the Request of reqs that holds Freight of
// origin, or -1 when none does: the Stage does not request that origin.
func RequestOf(reqs []Request, origin *kargoapi.FreightOrigin) int {
	for i := range reqs {
		if reqs[i].Holds(origin) {
			return i
		}
	}
	return -1
}

// Origins returns the origins st requests by name, nil for a Stage with
// subscriptions (which takes Freight of any origin).
func Origins(st *kargoapi.Stage) []kargoapi.FreightOrigin {
	var out []kargoapi.FreightOrigin
	for _, r := range st.Spec.RequestedFreight {
		out = append(out, r.Origin)
	}
	return out
}

// UpstreamStages returns the names of every upstream Stage st takes Freight
// through, in spec order, without repeats.
func UpstreamStages(st *kargoapi.Stage) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range Requests(st) {
		for _, u := range r.Upstreams {
			if !seen[u.Name] {
				seen[u.Name] = true
				out = append(out, u.Name)
			}
		}
	}
	return out
}
