package stage

import (
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func TestAutoPromotionCandidate(t *testing.T) {
	avail := []kargoapi.SimpleFreight{{ID: "new"}, {ID: "old"}}
	promo := func(freight string, phase kargoapi.PromotionPhase) kargoapi.Promotion {
		p := kargoapi.Promotion{Spec: kargoapi.PromotionSpec{Stage: "test", Freight: freight}}
		p.Status.Phase = phase
		return p
	}
	cases := []struct {
		name   string
		status kargoapi.StageStatus
		promos []kargoapi.Promotion
		want   string
	}{
		{"nothing available", kargoapi.StageStatus{}, nil, ""},
		{"first Freight", kargoapi.StageStatus{AvailableFreight: avail}, nil, "new"},
		{"newer than current", kargoapi.StageStatus{AvailableFreight: avail, CurrentFreight: &kargoapi.SimpleFreight{ID: "old"}}, nil, "new"},
		{"already current", kargoapi.StageStatus{AvailableFreight: avail, CurrentFreight: &kargoapi.SimpleFreight{ID: "new"}}, nil, ""},
		{"a promotion is in flight", kargoapi.StageStatus{AvailableFreight: avail}, []kargoapi.Promotion{promo("old", kargoapi.PromotionPhasePending)}, ""},
		{"rolled back manually", kargoapi.StageStatus{AvailableFreight: avail, CurrentFreight: &kargoapi.SimpleFreight{ID: "old"},
			History: []kargoapi.SimpleFreight{{ID: "old"}, {ID: "new"}, {ID: "old"}}}, nil, ""},
		{"failed before", kargoapi.StageStatus{AvailableFreight: avail}, []kargoapi.Promotion{promo("new", kargoapi.PromotionPhaseErrored)}, ""},
		{"earlier promotions ended", kargoapi.StageStatus{AvailableFreight: avail}, []kargoapi.Promotion{promo("old", kargoapi.PromotionPhaseSucceeded)}, "new"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &kargoapi.Stage{Status: tc.status}
			require.Equal(t, tc.want, AutoPromotionCandidate(st, tc.promos))
		})
	}
}
