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
		Origin:    f.Origin,
		FirstSeen: &firstSeen,
		Commits:   f.Commits,
		Images:    f.Images,
		Charts:    f.Charts,
	}
}
