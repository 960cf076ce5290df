package freight

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func TestDiscoveredAt(t *testing.T) {
	created := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	freight := func(created time.Time, annotation string) *kargoapi.Freight {
		f := &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)}}
		if annotation != "" {
			f.Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: annotation}
		}
		return f
	}
	cases := []struct {
		name string
		f    *kargoapi.Freight
		want time.Time
	}{
		{"the annotation orders Freight within its creation second", freight(created, "2026-11-21T12:00:00.25Z"), created.Add(250 * time.Millisecond)},
		{"without the annotation, the creation time", freight(created, ""), created},
		{"an unreadable annotation counts as none", freight(created, "tomorrow"), created},
		{"a far-future annotation counts as the end of the creation second", freight(created, "2999-01-01T00:00:00Z"), created.Add(time.Second - time.Nanosecond)},
		{"an annotation before the creation time counts as the creation time", freight(created, "2000-01-01T00:00:00Z"), created},
		{"Freight never stored: the annotation alone", freight(time.Time{}, "2026-11-21T12:00:00.5Z"), created.Add(500 * time.Millisecond)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, tc.want.Equal(DiscoveredAt(tc.f)), "got %s, want %s", DiscoveredAt(tc.f), tc.want)
		})
	}

	// Newer Freight is newer whatever an older one's annotation says.
	forged := freight(created, "2999-01-01T00:00:00Z")
	newer := freight(created.Add(time.Second), "")
	require.True(t, DiscoveredAt(newer).After(DiscoveredAt(forged)))
}
