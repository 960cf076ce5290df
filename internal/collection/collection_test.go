package collection

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/availability"
)

func wh(name string) *kargoapi.FreightOrigin {
	return &kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: name}
}

func sf(id string, origin *kargoapi.FreightOrigin) kargoapi.SimpleFreight {
	return kargoapi.SimpleFreight{ID: id, Origin: origin}
}

func requesting(origins ...string) *kargoapi.Stage {
	st := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "test"}}
	for _, o := range origins {
		st.Spec.RequestedFreight = append(st.Spec.RequestedFreight, kargoapi.FreightRequest{
			Origin: *wh(o), Sources: kargoapi.FreightSources{Direct: true},
		})
	}
	return st
}

func ids(fs []kargoapi.SimpleFreight) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

// A promotion replaces the Freight of its own origin and leaves the others.
func TestRecordReplacesOneOrigin(t *testing.T) {
	st := requesting("web", "api", "config")
	Record(st, sf("web-1", wh("web")), 10)
	Record(st, sf("api-1", wh("api")), 10)
	Record(st, sf("config-1", wh("config")), 10)
	require.Equal(t, []string{"api-1", "config-1", "web-1"}, ids(st.Status.CurrentFreightByOrigin), "one per origin, ordered by origin")
	Record(st, sf("api-2", wh("api")), 10)
	require.Equal(t, []string{"api-2", "config-1", "web-1"}, ids(st.Status.CurrentFreightByOrigin))
	require.Equal(t, "api-2", st.Status.CurrentFreight.ID)
	require.Equal(t, []string{"api-2", "config-1", "api-1", "web-1"}, ids(st.Status.History))
	require.True(t, Holds(st, "web-1"))
	require.False(t, Holds(st, "api-1"))
	held := Held(st)
	require.Equal(t, "web-1", held[0].ID)
	require.Equal(t, "api-2", held[1].ID)
	require.Equal(t, "config-1", held[2].ID)
}

// A Stage with subscriptions holds one Freight, whatever its origin, as it
// always did.
func TestRecordSubscriptionsHoldOne(t *testing.T) {
	st := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "uat"}, Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{
		UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}},
	}}}
	Record(st, sf("a", wh("one")), 10)
	Record(st, sf("b", wh("two")), 10)
	require.Equal(t, []string{"b"}, ids(st.Status.CurrentFreightByOrigin))
	require.Equal(t, []string{"b", "a"}, ids(st.Status.History))

	// A Stage recorded before origins were: its current Freight is all it
	// holds, and a promotion replaces it.
	old := &kargoapi.Stage{Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{Warehouse: "w"}}}
	old.Status.CurrentFreight = &kargoapi.SimpleFreight{ID: "x"}
	require.Equal(t, []string{"x"}, ids(Current(old)))
	Record(old, sf("y", wh("w")), 10)
	require.Equal(t, []string{"y"}, ids(old.Status.CurrentFreightByOrigin))
}

// The history limit is per origin: a busy origin does not push the others
// out.
func TestHistoryBoundedPerOrigin(t *testing.T) {
	st := requesting("api", "web")
	Record(st, sf("web-1", wh("web")), 2)
	for _, id := range []string{"api-1", "api-2", "api-3", "api-4"} {
		Record(st, sf(id, wh("api")), 2)
	}
	require.Equal(t, []string{"api-4", "api-3", "web-1"}, ids(st.Status.History))
}

// With and Missing tell what a promotion leaves the Stage holding, and of
// which requested origins it holds nothing yet.
func TestWithAndMissing(t *testing.T) {
	st := requesting("api", "web", "config")
	Record(st, sf("web-1", wh("web")), 10)
	with := With(st, sf("api-1", wh("api")))
	require.Equal(t, []string{"api-1", "web-1"}, ids(with))
	require.Equal(t, []kargoapi.FreightOrigin{*wh("config")}, Missing(st, with))
	require.Equal(t, []string{"web-2"}, ids(With(st, sf("web-2", wh("web")))))
}

// The Ready message counts the listed Freight and, once an origin's share of
// the list is full, says that there may be more.
func TestReadyMessageSaysWhenTheListIsFull(t *testing.T) {
	st := requesting("a", "b")
	st.Status.AvailableFreight = []kargoapi.SimpleFreight{sf("b1", wh("b"))}
	require.Equal(t, "1 Freight available", ReadyMessage(st))
	for i := range availability.ListedPerOrigin {
		st.Status.AvailableFreight = append(st.Status.AvailableFreight, sf(fmt.Sprint("a", i), wh("a")))
	}
	require.Equal(t, fmt.Sprintf("at least %d Freight available", availability.ListedPerOrigin+1), ReadyMessage(st))
}
