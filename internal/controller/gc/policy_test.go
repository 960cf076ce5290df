package gc

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// freightOf makes n Freight of a Warehouse, f0 the oldest, one a second.
func freightOf(warehouse string, n int) []kargoapi.Freight {
	out := make([]kargoapi.Freight, n)
	for i := range out {
		out[i] = kargoapi.Freight{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-f%d", warehouse, i), CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(i) * time.Second))},
			Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: warehouse},
		}
	}
	return out
}

func TestFreightToDelete(t *testing.T) {
	all := append(freightOf("a", 6), freightOf("b", 2)...)
	all[0].Status.ApprovedFor = map[string]kargoapi.ApprovedStage{"prod": {}}
	stages := []kargoapi.Stage{{Status: kargoapi.StageStatus{
		CurrentFreight: &kargoapi.SimpleFreight{ID: "a-f1"},
		History:        []kargoapi.SimpleFreight{{ID: "a-f1"}, {ID: "a-f2"}},
	}}}
	promotions := []kargoapi.Promotion{
		{Spec: kargoapi.PromotionSpec{Freight: "a-f3"}, Status: kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseRunning}},
		{Spec: kargoapi.PromotionSpec{Freight: "a-f4"}}, // not started: no phase yet
		{Spec: kargoapi.PromotionSpec{Freight: "b-f0"}, Status: kargoapi.PromotionStatus{Phase: kargoapi.PromotionPhaseSucceeded}},
	}
	inUse := FreightInUse(stages, promotions, all)
	require.Equal(t, map[string]bool{"a-f0": true, "a-f1": true, "a-f2": true, "a-f3": true, "a-f4": true}, inUse)

	for _, tc := range []struct {
		keep int
		want map[string][]string
	}{
		{keep: 1, want: map[string][]string{"Warehouse/b": {"b-f0"}}}, // a-f5 kept, a-f0..4 in use
		{keep: 2, want: map[string][]string{}},
		{keep: 100, want: map[string][]string{}},
	} {
		t.Run(fmt.Sprint("keep ", tc.keep), func(t *testing.T) {
			require.Equal(t, tc.want, FreightToDelete(all, inUse, tc.keep))
		})
	}
	t.Run("nothing in use", func(t *testing.T) {
		require.Equal(t, map[string][]string{"Warehouse/a": {"a-f3", "a-f2", "a-f1", "a-f0"}},
			FreightToDelete(freightOf("a", 6), map[string]bool{}, 2))
	})
	t.Run("discovered-at orders Freight of one second", func(t *testing.T) {
		same := freightOf("a", 2)
		same[1].CreationTimestamp = same[0].CreationTimestamp
		same[0].Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: t0.Add(500 * time.Millisecond).Format(time.RFC3339Nano)}
		same[1].Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: t0.Add(100 * time.Millisecond).Format(time.RFC3339Nano)}
		require.Equal(t, map[string][]string{"Warehouse/a": {"a-f1"}}, FreightToDelete(same, map[string]bool{}, 1))
	})
}

func TestPromotionsToDelete(t *testing.T) {
	promo := func(name, stage string, sec int, phase kargoapi.PromotionPhase) kargoapi.Promotion {
		return kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(sec) * time.Second))},
			Spec:       kargoapi.PromotionSpec{Stage: stage},
			Status:     kargoapi.PromotionStatus{Phase: phase},
		}
	}
	all := []kargoapi.Promotion{
		promo("t1", "test", 1, kargoapi.PromotionPhaseSucceeded),
		promo("t2", "test", 2, kargoapi.PromotionPhaseFailed),
		promo("t3", "test", 3, kargoapi.PromotionPhaseSucceeded),
		promo("t0", "test", 0, kargoapi.PromotionPhasePending), // oldest, but not ended
		promo("u1", "uat", 1, kargoapi.PromotionPhaseRunning),
		promo("u2", "uat", 2, ""),
	}
	require.Equal(t, map[string][]string{"test": {"t2", "t1"}}, PromotionsToDelete(all, 1))
	require.Equal(t, map[string][]string{}, PromotionsToDelete(all, 3))
}

func TestPolicyForProject(t *testing.T) {
	base := Policy{KeepFreight: 100, KeepPromotions: 50}
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        Policy
		invalid     []string
	}{
		{name: "none", want: base},
		{name: "both", annotations: map[string]string{kargoapi.KeepFreightAnnotationKey: "10", kargoapi.KeepPromotionsAnnotationKey: "5"},
			want: Policy{KeepFreight: 10, KeepPromotions: 5}},
		{name: "zero and junk are ignored", annotations: map[string]string{kargoapi.KeepFreightAnnotationKey: "0", kargoapi.KeepPromotionsAnnotationKey: "lots"},
			want: base, invalid: []string{kargoapi.KeepFreightAnnotationKey, kargoapi.KeepPromotionsAnnotationKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Annotations: tc.annotations}}
			got, invalid := base.ForProject(p)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.invalid, invalid)
		})
	}
}
