package flowgate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

func at(t *testing.T, tz, wall string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	require.NoError(t, err)
	ts, err := time.ParseInLocation("2006-01-02 15:04", wall, loc)
	require.NoError(t, err)
	return ts
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return ts
}

// TestWindowOpen tries spans across midnight, across weekends, and across
// the daylight saving changes of 2026 in Europe/Berlin (29 March: 02:00 CET
// becomes 03:00 CEST; 25 October: 03:00 CEST becomes 02:00 CET) and
// America/New_York (8 March, 1 November).
func TestWindowOpen(t *testing.T) {
	weekend := []string{"Fri 16:00", "Mon 08:00"}
	cases := []struct {
		name  string
		tz    string
		spans []string
		days  []string
		now   time.Time
		open  bool
		// until is when the open window closes, or when the closed one
		// opens, in UTC; empty: never.
		until string
	}{
		{name: "Friday afternoon before the weekend", tz: "Europe/Berlin", spans: weekend,
			now: at(t, "Europe/Berlin", "2026-10-23 15:59"), open: false, until: "2026-10-23T14:00:00Z"},
		{name: "Friday 16:00 opens it; it ends Monday 08:00 CET, after the autumn change (65 hours)", tz: "Europe/Berlin", spans: weekend,
			now: at(t, "Europe/Berlin", "2026-10-23 16:00"), open: true, until: "2026-10-26T07:00:00Z"},
		{name: "the repeated hour of the autumn change", tz: "Europe/Berlin", spans: weekend,
			now: utc(t, "2026-10-25T00:30:00Z"), open: true, until: "2026-10-26T07:00:00Z"},
		{name: "the second pass of the repeated hour", tz: "Europe/Berlin", spans: weekend,
			now: utc(t, "2026-10-25T01:30:00Z"), open: true, until: "2026-10-26T07:00:00Z"},
		{name: "Monday 07:59 CET", tz: "Europe/Berlin", spans: weekend,
			now: utc(t, "2026-10-26T06:59:00Z"), open: true, until: "2026-10-26T07:00:00Z"},
		{name: "Monday 08:00 CET ends it", tz: "Europe/Berlin", spans: weekend,
			now: utc(t, "2026-10-26T07:00:00Z"), open: false, until: "2026-10-30T15:00:00Z"},
		{name: "spring: it opens Friday 16:00 CET and ends Monday 08:00 CEST (63 hours)", tz: "Europe/Berlin", spans: weekend,
			now: utc(t, "2026-03-27T15:00:00Z"), open: true, until: "2026-03-30T06:00:00Z"},
		{name: "spring: Monday 07:30 CEST is 05:30 UTC, still inside", tz: "Europe/Berlin", spans: weekend,
			now: utc(t, "2026-03-30T05:30:00Z"), open: true, until: "2026-03-30T06:00:00Z"},
		{name: "spring: Monday 08:00 CEST is 06:00 UTC, which a fixed UTC offset would miss", tz: "Europe/Berlin", spans: weekend,
			now: utc(t, "2026-03-30T06:00:00Z"), open: false, until: "2026-04-03T14:00:00Z"},
		{name: "Wednesday is outside", tz: "Europe/Berlin", spans: weekend,
			now: at(t, "Europe/Berlin", "2026-10-28 12:00"), open: false, until: "2026-10-30T15:00:00Z"},
		{name: "a daily span past midnight, before midnight", tz: "UTC", spans: []string{"22:00", "06:00"},
			now: utc(t, "2026-06-02T23:00:00Z"), open: true, until: "2026-06-03T06:00:00Z"},
		{name: "a daily span past midnight, after midnight", tz: "UTC", spans: []string{"22:00", "06:00"},
			now: utc(t, "2026-06-03T05:59:00Z"), open: true, until: "2026-06-03T06:00:00Z"},
		{name: "a daily span past midnight, at its end", tz: "UTC", spans: []string{"22:00", "06:00"},
			now: utc(t, "2026-06-03T06:00:00Z"), open: false, until: "2026-06-03T22:00:00Z"},
		{name: "a Monday-night span, on Tuesday morning, belongs to Monday", tz: "UTC", spans: []string{"22:00", "06:00"}, days: []string{"Mon"},
			now: utc(t, "2026-06-02T03:00:00Z"), open: true, until: "2026-06-02T06:00:00Z"},
		{name: "a Monday-night span, on Tuesday night, is closed until next Monday", tz: "UTC", spans: []string{"22:00", "06:00"}, days: []string{"Mon"},
			now: utc(t, "2026-06-02T23:00:00Z"), open: false, until: "2026-06-08T22:00:00Z"},
		{name: "a Tokyo morning span seen at Sunday 16:00 UTC, which is Monday 01:00 there", tz: "Asia/Tokyo", spans: []string{"00:00", "06:00"}, days: []string{"Mon"},
			now: utc(t, "2026-06-07T16:00:00Z"), open: true, until: "2026-06-07T21:00:00Z"},
		{name: "office hours, Saturday, open Monday 09:00 EST after the autumn change", tz: "America/New_York", spans: []string{"09:00", "17:00"}, days: []string{"Mon", "Tue", "Wed", "Thu", "Fri"},
			now: utc(t, "2026-10-31T15:00:00Z"), open: false, until: "2026-11-02T14:00:00Z"},
		{name: "office hours, Friday 16:59 EDT", tz: "America/New_York", spans: []string{"09:00", "17:00"}, days: []string{"Mon", "Tue", "Wed", "Thu", "Fri"},
			now: utc(t, "2026-10-30T20:59:00Z"), open: true, until: "2026-10-30T21:00:00Z"},
		{name: "a span ending in the hour spring skips is closed once the clock jumps past it", tz: "Europe/Berlin", spans: []string{"01:00", "02:30"},
			now: utc(t, "2026-03-29T01:00:00Z"), open: false, until: "2026-03-29T23:00:00Z"},
		{name: "a whole-day span on Saturdays, open until Sunday's midnight", tz: "Europe/Berlin", spans: []string{"00:00", "00:00"}, days: []string{"Sat"},
			now: at(t, "Europe/Berlin", "2026-10-24 10:00"), open: true, until: "2026-10-24T22:00:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pw := objects.PromotionWindow("p", "w", kargoapi.PromotionWindowDeny, c.tz, c.spans...)
			pw.Spec.Spans[0].Days = c.days
			w, err := ParseWindow(pw)
			require.NoError(t, err)
			open, until := w.Open(c.now)
			require.Equal(t, c.open, open)
			if !open {
				until = w.NextOpen(c.now)
			}
			if c.until == "" {
				require.True(t, until.IsZero(), "until %s", until)
				return
			}
			require.Equal(t, utc(t, c.until), until.UTC())
		})
	}
}

func TestParseWindowRefusals(t *testing.T) {
	cases := map[string]*kargoapi.PromotionWindow{
		"unknown time zone": objects.PromotionWindow("p", "w", kargoapi.PromotionWindowDeny, "Mars/Olympus", "Fri 16:00", "Mon 08:00"),
		"a day on one end":  objects.PromotionWindow("p", "w", kargoapi.PromotionWindowDeny, "", "Fri 16:00", "08:00"),
		"no such day":       objects.PromotionWindow("p", "w", kargoapi.PromotionWindowDeny, "", "Fry 16:00", "Mon 08:00"),
		"hour 24":           objects.PromotionWindow("p", "w", kargoapi.PromotionWindowDeny, "", "24:00", "08:00"),
		"no spans":          objects.PromotionWindow("p", "w", kargoapi.PromotionWindowDeny, ""),
		"kind neither":      objects.PromotionWindow("p", "w", "Maybe", "", "09:00", "17:00"),
		"a glob that is not": func() *kargoapi.PromotionWindow {
			w := objects.PromotionWindow("p", "w", kargoapi.PromotionWindowDeny, "", "09:00", "17:00")
			w.Spec.Stages.Names = []string{"prod-["}
			return w
		}(),
		"days on weekly span": func() *kargoapi.PromotionWindow {
			w := objects.PromotionWindow("p", "w", kargoapi.PromotionWindowDeny, "", "Fri 16:00", "Mon 08:00")
			w.Spec.Spans[0].Days = []string{"Fri"}
			return w
		}(),
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseWindow(w)
			require.Error(t, err)
		})
	}
}

func TestSelects(t *testing.T) {
	prod := objects.Stage("p", "prod-eu", objects.StageLabels("tier", "prod"))
	test := objects.Stage("p", "test", objects.StageLabels("tier", "test"))
	cases := []struct {
		name     string
		names    []string
		selector *metav1.LabelSelector
		wantProd bool
		wantTest bool
	}{
		{name: "no selector selects every Stage", wantProd: true, wantTest: true},
		{name: "by name", names: []string{"test"}, wantTest: true},
		{name: "by glob", names: []string{"prod-*"}, wantProd: true},
		{name: "by label", selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}, wantProd: true},
		{name: "name or label", names: []string{"test"}, selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}, wantProd: true, wantTest: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pw := objects.PromotionWindow("p", "w", kargoapi.PromotionWindowDeny, "", "09:00", "17:00")
			pw.Spec.Stages = kargoapi.PromotionWindowStages{Names: c.names, LabelSelector: c.selector}
			w, err := ParseWindow(pw)
			require.NoError(t, err)
			require.Equal(t, c.wantProd, w.Selects(prod))
			require.Equal(t, c.wantTest, w.Selects(test))
		})
	}
}
