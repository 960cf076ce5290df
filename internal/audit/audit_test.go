package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "", want: time.Time{}},
		{in: "90m", want: now.Add(-90 * time.Minute)},
		{in: "24h", want: now.Add(-24 * time.Hour)},
		{in: "7d", want: now.Add(-7 * 24 * time.Hour)},
		{in: "2025-01-30T09:00:00Z", want: time.Date(2025, 1, 30, 9, 0, 0, 0, time.UTC)},
		{in: "yesterday", bad: true},
		{in: "-5m", bad: true},
		{in: "1.5d", bad: true},
		{in: "d", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSince(tc.in, now)
			if tc.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "got %v", got)
		})
	}
}

func TestFilterMatches(t *testing.T) {
	at := time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	promote := &kargoapi.AuditRecord{Time: metav1.NewMicroTime(at), Target: kargoapi.AuditTarget{Kind: "Stage", Name: "prod", Stage: "prod"}}
	approve := &kargoapi.AuditRecord{Time: metav1.NewMicroTime(at), Target: kargoapi.AuditTarget{Kind: "Freight", Name: "f", Stage: "uat"}}
	for name, tc := range map[string]struct {
		f    Filter
		rec  *kargoapi.AuditRecord
		want bool
	}{
		"no filter":                  {Filter{}, approve, true},
		"stage of the target":        {Filter{Stage: "prod"}, promote, true},
		"stage the action concerns":  {Filter{Stage: "uat"}, approve, true},
		"another stage":              {Filter{Stage: "prod"}, approve, false},
		"since before":               {Filter{Since: at.Add(-time.Second)}, approve, true},
		"since the very time":        {Filter{Since: at}, approve, true},
		"since after":                {Filter{Since: at.Add(time.Microsecond)}, approve, false},
		"stage and since both apply": {Filter{Stage: "prod", Since: at.Add(time.Hour)}, promote, false},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.f.Matches(tc.rec))
		})
	}
}

func TestNewTruncatesMessages(t *testing.T) {
	long := strings.Repeat("é", 1000) // 2000 bytes
	rec := New("p", authenticationUser("alice"), "promote", kargoapi.AuditTarget{Kind: "Stage"}, map[string]string{}, kargoapi.AuditOutcome{Message: long}, time.Now())
	require.LessOrEqual(t, len(rec.Outcome.Message), maxMessage)
	require.True(t, strings.HasSuffix(rec.Outcome.Message, "…"))
	require.True(t, strings.HasPrefix(long, strings.TrimSuffix(rec.Outcome.Message, "…")), "cut on a rune boundary")
	require.Nil(t, rec.Details, "empty details are left out")
	require.Equal(t, "promote-", rec.GenerateName)
}

func TestRetentionBeyond(t *testing.T) {
	now := time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	item := func(name string, age time.Duration) metav1.PartialObjectMetadata {
		return metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))}}
	}
	names := func(items []metav1.PartialObjectMetadata) []string {
		var out []string
		for _, i := range items {
			out = append(out, i.Name)
		}
		return out
	}
	items := []metav1.PartialObjectMetadata{item("c", time.Hour), item("a", 3*time.Hour), item("b", 2*time.Hour), item("old", 100*24*time.Hour)}
	r := &Retention{Keep: 2, Now: func() time.Time { return now }}
	require.Equal(t, []string{"a", "old"}, names(r.beyond(items)), "all but the newest two")
	r = &Retention{Keep: 10, Now: func() time.Time { return now }}
	require.Equal(t, []string{"old"}, names(r.beyond(items)), "older than the default 90 days")
	r = &Retention{Keep: 10, MaxAge: -1, Now: func() time.Time { return now }}
	require.Empty(t, r.beyond(items), "no age bound")
	r = &Retention{Keep: 10, MaxAge: 90 * time.Minute, Now: func() time.Time { return now }}
	require.Equal(t, []string{"b", "a", "old"}, names(r.beyond(items)))
}

func authenticationUser(name string) authenticationv1.UserInfo {
	return authenticationv1.UserInfo{Username: name, Groups: []string{"system:authenticated"}}
}
