package freight

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Simple returns the Freight as a Stage records it in its status. FirstSeen
// is when the Freight was created, or now for one not stored yet.
func Simple(f *kargoapi.Freight) kargoapi.SimpleFreight {
	firstSeen := f.CreationTimestamp
	if firstSeen.IsZero() {
		firstSeen = metav1.Now()
	}
	return kargoapi.SimpleFreight{
		ID:        f.Name,
		Alias:     f.Alias,
		FirstSeen: &firstSeen,
		Commits:   f.Commits,
		Images:    f.Images,
		Charts:    f.Charts,
	}
}

// PushAvailable puts f on top of a Stage's stack of available Freight, newest
// first, unless the stack already holds it, and keeps at most max entries.
// It reports whether the stack changed.
func PushAvailable(stack []kargoapi.SimpleFreight, f kargoapi.SimpleFreight, max int) ([]kargoapi.SimpleFreight, bool) {
	for _, s := range stack {
		if s.ID == f.ID {
			return stack, false
		}
	}
	stack = append([]kargoapi.SimpleFreight{f}, stack...)
	if len(stack) > max {
		stack = stack[:max]
	}
	return stack, true
}
