package freight

import (
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// DiscoveredAt returns when f was produced, the key that orders Freight
// newest first everywhere (a Stage's available Freight, auto-promotion, the
// API's lists). It rests on metadata.creationTimestamp, which the API
// server sets and nobody can change. That has whole seconds only, so the
// kargo.akuity.io/discovered-at annotation, stamped with nanoseconds at
// admission, orders Freight within that second; it counts only inside the
// second, so an annotation set by hand (before the webhook kept it
// unchanged, or on a cluster without it) can at most reorder Freight
// created in the same second, never move one ahead of newer Freight or
// freeze the order. Freight never stored (creationTimestamp unset, as in
// tests of pure functions) is ordered by the annotation alone.
func DiscoveredAt(f *kargoapi.Freight) time.Time {
	created := f.CreationTimestamp.Time
	at, err := time.Parse(time.RFC3339Nano, f.Annotations[kargoapi.DiscoveredAtAnnotationKey])
	switch {
	case created.IsZero() && err == nil:
		return at
	case err != nil || at.Before(created):
		return created
	}
	if last := created.Truncate(time.Second).Add(time.Second - time.Nanosecond); at.After(last) {
		return last
	}
	return at
}

// ProducedByController reports whether kargo's controller produced f from
// what its subscriptions discovered, as admission recorded when f was
// created: the only Freight auto-promotion picks.
func ProducedByController(f *kargoapi.Freight) bool {
	return f.CreatedBy != nil && f.CreatedBy.Controller
}
