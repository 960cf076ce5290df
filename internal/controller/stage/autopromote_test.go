package stage

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func TestAutoPromotionCandidate(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	promo := func(freight string, phase kargoapi.PromotionPhase) kargoapi.Promotion {
		p := kargoapi.Promotion{Spec: kargoapi.PromotionSpec{Stage: "test", Freight: freight}}
		p.Status.Phase = phase
		return p
	}
	// auto is an auto-promotion that ended ago.
	auto := func(freight string, phase kargoapi.PromotionPhase, ago time.Duration) kargoapi.Promotion {
		p := promo(freight, phase)
		p.Labels = map[string]string{kargoapi.AutoPromotedByLabelKey: "test"}
		done := metav1.NewTime(now.Add(-ago))
		p.Status.CompletionTime = &done
		return p
	}
	erroredTimes := func(n int, ago time.Duration) []kargoapi.Promotion {
		var out []kargoapi.Promotion
		for range n {
			out = append(out, auto("new", kargoapi.PromotionPhaseErrored, ago))
		}
		return out
	}
	cases := []struct {
		name   string
		newest string
		status kargoapi.StageStatus
		promos []kargoapi.Promotion
		want   AutoPromotion
	}{
		{"nothing available", "", kargoapi.StageStatus{}, nil, AutoPromotion{}},
		{"first Freight", "new", kargoapi.StageStatus{}, nil, AutoPromotion{Freight: "new", Attempt: 1}},
		{"newer than current", "new", kargoapi.StageStatus{CurrentFreight: &kargoapi.SimpleFreight{ID: "old"}}, nil, AutoPromotion{Freight: "new", Attempt: 1}},
		{"already current", "new", kargoapi.StageStatus{CurrentFreight: &kargoapi.SimpleFreight{ID: "new"}}, nil, AutoPromotion{}},
		{"a promotion is in flight", "new", kargoapi.StageStatus{}, []kargoapi.Promotion{promo("old", kargoapi.PromotionPhasePending)}, AutoPromotion{}},
		{"rolled back manually", "new", kargoapi.StageStatus{CurrentFreight: &kargoapi.SimpleFreight{ID: "old"},
			History: []kargoapi.SimpleFreight{{ID: "old"}, {ID: "new"}, {ID: "old"}}}, nil, AutoPromotion{}},
		{"a manual promotion of it errored", "new", kargoapi.StageStatus{}, []kargoapi.Promotion{promo("new", kargoapi.PromotionPhaseErrored)}, AutoPromotion{}},
		{"its auto-promotion failed", "new", kargoapi.StageStatus{}, []kargoapi.Promotion{auto("new", kargoapi.PromotionPhaseFailed, time.Hour)}, AutoPromotion{}},
		{"its auto-promotion errored, back-off not over", "new", kargoapi.StageStatus{}, erroredTimes(1, 3*time.Second),
			AutoPromotion{RetryAt: now.Add(7 * time.Second)}},
		{"its auto-promotion errored, back-off over", "new", kargoapi.StageStatus{}, erroredTimes(1, 10*time.Second),
			AutoPromotion{Freight: "new", Attempt: 2}},
		{"errored three times: the back-off doubles", "new", kargoapi.StageStatus{}, erroredTimes(3, 30*time.Second),
			AutoPromotion{RetryAt: now.Add(10 * time.Second)}},
		{"errored too often", "new", kargoapi.StageStatus{}, erroredTimes(MaxAutoPromotionAttempts, time.Hour), AutoPromotion{}},
		{"a person promoted since it errored", "new", kargoapi.StageStatus{CurrentFreight: &kargoapi.SimpleFreight{ID: "old"}},
			[]kargoapi.Promotion{auto("new", kargoapi.PromotionPhaseErrored, time.Hour), promo("old", kargoapi.PromotionPhaseSucceeded)}, AutoPromotion{}},
		{"earlier promotions ended", "new", kargoapi.StageStatus{}, []kargoapi.Promotion{promo("old", kargoapi.PromotionPhaseSucceeded)}, AutoPromotion{Freight: "new", Attempt: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &kargoapi.Stage{Status: tc.status}
			require.Equal(t, tc.want, AutoPromotionCandidate(st, tc.newest, tc.promos, now))
		})
	}
}

func TestRetryDelay(t *testing.T) {
	require.Equal(t, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute},
		[]time.Duration{RetryDelay(1), RetryDelay(2), RetryDelay(3), RetryDelay(4), RetryDelay(5), RetryDelay(6), RetryDelay(50)})
}

// Only Freight kargo's controller produced is ever auto-promoted, whatever
// else claims the Stage's Warehouse, however new it says it is, and even
// when it was verified upstream or approved for the Stage.
func TestNewestAutoPromotable(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	controller := &kargoapi.FreightCreator{Username: "system:serviceaccount:kargo:kargo-controller", Controller: true}
	carol := &kargoapi.FreightCreator{Username: "carol"}
	freight := func(name string, age time.Duration, by *kargoapi.FreightCreator, status kargoapi.FreightStatus) kargoapi.Freight {
		return kargoapi.Freight{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(-age))},
			Origin:     &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "wh"},
			CreatedBy:  by,
			Status:     status,
		}
	}
	test := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "test"}, Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "wh"}}}
	uat := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "uat"}, Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}}}}
	verified := kargoapi.FreightStatus{VerifiedIn: map[string]kargoapi.VerifiedStage{"test": {}}}
	approved := kargoapi.FreightStatus{ApprovedFor: map[string]kargoapi.ApprovedStage{"uat": {}}}

	forged := freight("forged", 0, carol, kargoapi.FreightStatus{})
	forged.Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: "2999-01-01T00:00:00Z"}
	crowd := []kargoapi.Freight{freight("produced", time.Hour, controller, kargoapi.FreightStatus{})}
	for i := range 150 {
		crowd = append(crowd, freight(fmt.Sprintf("carol-%03d", i), time.Duration(i)*time.Second, carol, kargoapi.FreightStatus{}))
	}
	cases := []struct {
		name string
		st   *kargoapi.Stage
		all  []kargoapi.Freight
		want string
	}{
		{"the controller's newest Freight", test, []kargoapi.Freight{
			freight("older", time.Hour, controller, kargoapi.FreightStatus{}), freight("newer", time.Minute, controller, kargoapi.FreightStatus{})}, "newer"},
		{"newer Freight carol created is passed over", test, []kargoapi.Freight{
			freight("produced", time.Hour, controller, kargoapi.FreightStatus{}), freight("carols", 0, carol, kargoapi.FreightStatus{})}, "produced"},
		{"a far-future discovered-at changes nothing", test, []kargoapi.Freight{
			freight("produced", time.Minute, controller, kargoapi.FreightStatus{}), forged}, "produced"},
		{"150 Freight of carol's do not crowd out the controller's", test, crowd, "produced"},
		{"Freight without a recorded creator is passed over", test, []kargoapi.Freight{freight("legacy", 0, nil, kargoapi.FreightStatus{})}, ""},
		{"carol's Freight verified upstream does not flow on by itself", uat, []kargoapi.Freight{
			freight("produced", time.Hour, controller, verified), freight("carols", 0, carol, verified)}, "produced"},
		{"carol's Freight approved for the Stage is not auto-promoted", uat, []kargoapi.Freight{freight("carols", 0, carol, approved)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, NewestAutoPromotable(tc.st, tc.all, t0))
		})
	}
}

// A Stage that requests several origins auto-promotes each on its own: the
// newest Freight of each origin is a candidate, and an errored
// auto-promotion of one origin is retried even after the other origin's
// Freight was promoted since.
func TestAutoPromotionPerOrigin(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	origin := func(name string) *kargoapi.FreightOrigin {
		return &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: name}
	}
	st := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "test"}, Spec: kargoapi.StageSpec{RequestedFreight: []kargoapi.FreightRequest{
		{Origin: *origin("api"), Sources: kargoapi.FreightSources{Direct: true}},
		{Origin: *origin("web"), Sources: kargoapi.FreightSources{Direct: true}},
	}}}
	f := func(name, from string, age time.Duration) kargoapi.Freight {
		return kargoapi.Freight{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))},
			Origin:     origin(from),
			CreatedBy:  &kargoapi.FreightCreator{Username: "system:serviceaccount:kargo:kargo-controller", Controller: true},
		}
	}
	all := []kargoapi.Freight{f("api-1", "api", time.Hour), f("web-1", "web", 2*time.Hour), f("web-2", "web", 3*time.Hour)}
	require.Equal(t, []string{"api-1", "web-1"}, NewestAutoPromotablePerRequest(st, all, now))

	st.Status.CurrentFreightByOrigin = []kargoapi.SimpleFreight{{ID: "web-1", Origin: origin("web")}}
	st.Status.CurrentFreight = &st.Status.CurrentFreightByOrigin[0]
	errored := kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{kargoapi.AutoPromotedByLabelKey: "p"}}, Spec: kargoapi.PromotionSpec{Stage: "test", Freight: "api-1"}}
	errored.Status.Phase = kargoapi.PromotionPhaseErrored
	done := metav1.NewTime(now.Add(-time.Minute))
	errored.Status.CompletionTime = &done
	webPromo := kargoapi.Promotion{Spec: kargoapi.PromotionSpec{Stage: "test", Freight: "web-1"}}
	webPromo.Status.Phase = kargoapi.PromotionPhaseSucceeded
	promos := []kargoapi.Promotion{errored, webPromo}

	apiPromos := promotionsOfRequest(st, all, promos, 0)
	require.Len(t, apiPromos, 1)
	require.Equal(t, AutoPromotion{Freight: "api-1", Attempt: 2}, AutoPromotionCandidate(st, "api-1", apiPromos, now))
	require.Equal(t, AutoPromotion{}, AutoPromotionCandidate(st, "web-1", promotionsOfRequest(st, all, promos, 1), now), "web-1 is held already")
	require.Equal(t, AutoPromotion{}, AutoPromotionCandidate(st, "api-1", promos, now), "over all Promotions, the later web one would have stopped the retry")
}
