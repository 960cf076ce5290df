package notify

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

func TestHoldEvents(t *testing.T) {
	at := time.Date(2026, 10, 24, 9, 0, 0, 0, time.UTC)
	st := objects.Stage("p", "prod", objects.HeldBy("alice", "bad release", at))
	st.UID = "s1"
	free := objects.Stage("p", "test")
	proj := &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "p1"}}
	require.Empty(t, HoldEvents(proj, []kargoapi.Stage{*free}))

	proj.Status.Freeze = &kargoapi.Hold{By: "bob", Reason: "incident 42", At: metav1.NewTime(at.Add(time.Minute))}
	got := HoldEvents(proj, []kargoapi.Stage{*st, *free})
	require.Len(t, got, 2)
	require.Equal(t, "hold/s1/"+strconv.FormatInt(at.Unix(), 10), got[0].ID)
	require.Equal(t, kargoapi.NotificationHoldSet, got[0].Type)
	require.Equal(t, "prod", got[0].Stage)
	require.Equal(t, "alice", got[0].Actor)
	require.Contains(t, got[0].Message, "bad release")
	require.Empty(t, got[1].Stage, "a freeze is about the whole project")
	require.Equal(t, "bob", got[1].Actor)

	// A subscription limited to other Stages still hears of a freeze, and
	// one limited to prod hears of prod's hold.
	require.True(t, Wants(kargoapi.NotificationSubscriptionSpec{Stages: []string{"uat"}}, got[1]))
	require.False(t, Wants(kargoapi.NotificationSubscriptionSpec{Stages: []string{"uat"}}, got[0]))
	require.True(t, Wants(kargoapi.NotificationSubscriptionSpec{Events: []kargoapi.NotificationEventType{kargoapi.NotificationHoldSet}, Stages: []string{"prod"}}, got[0]))

	// Released and set again, it is a new event.
	st.Status.Hold.At = metav1.NewTime(at.Add(time.Hour))
	require.NotEqual(t, got[0].ID, HoldEvents(nil, []kargoapi.Stage{*st})[0].ID)
}
