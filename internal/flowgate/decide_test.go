package flowgate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// TestDecide: the window that decides and the next change, in the time
// zones of the windows, across a weekend and a daylight saving change.
func TestDecide(t *testing.T) {
	weekend := objects.PromotionWindow("p", "no-weekend-prod", kargoapi.PromotionWindowDeny, "Europe/Berlin", "Fri 16:00", "Mon 08:00")
	weekend.Spec.Stages.Names = []string{"prod*"}
	office := objects.PromotionWindow("p", "office-hours", kargoapi.PromotionWindowAllow, "America/New_York", "09:00", "17:00")
	office.Spec.Spans[0].Days = []string{"Mon", "Tue", "Wed", "Thu", "Fri"}
	always := objects.PromotionWindow("p", "always-closed", kargoapi.PromotionWindowDeny, "UTC", "00:00", "00:00")
	always.Spec.Stages.Names = []string{"prod"}
	broken := objects.PromotionWindow("p", "typo", kargoapi.PromotionWindowDeny, "Europe/Berlln", "Fri 16:00", "Mon 08:00")
	prod, test := objects.Stage("p", "prod"), objects.Stage("p", "test")

	cases := []struct {
		name      string
		st        *kargoapi.Stage
		windows   []*kargoapi.PromotionWindow
		now       time.Time
		open      bool
		window    string // "" for none
		change    string // UTC; "" for none
		selecting int
	}{
		{name: "no window: open for good", st: prod, now: utc(t, "2026-10-21T12:00:00Z"), open: true},
		{name: "a window that selects other Stages has no say", st: test, windows: []*kargoapi.PromotionWindow{weekend}, now: utc(t, "2026-10-24T12:00:00Z"), open: true},
		{name: "Saturday: the deny window decides, until Monday 08:00 CET (after the autumn change)", st: prod, windows: []*kargoapi.PromotionWindow{weekend},
			now: utc(t, "2026-10-24T12:00:00Z"), window: "no-weekend-prod", change: "2026-10-26T07:00:00Z", selecting: 1},
		{name: "Wednesday: open, and the deny window closes it Friday 16:00 CET", st: prod, windows: []*kargoapi.PromotionWindow{weekend},
			now: utc(t, "2026-10-28T12:00:00Z"), open: true, window: "no-weekend-prod", change: "2026-10-30T15:00:00Z", selecting: 1},
		{name: "an open allow window decides until it closes at 17:00 in New York", st: test, windows: []*kargoapi.PromotionWindow{office},
			now: utc(t, "2026-10-28T14:00:00Z"), open: true, window: "office-hours", change: "2026-10-28T21:00:00Z", selecting: 1},
		{name: "Friday evening in New York: closed until Monday 09:00 EST (after New York's change)", st: test, windows: []*kargoapi.PromotionWindow{office},
			now: utc(t, "2026-10-30T22:00:00Z"), window: "office-hours", change: "2026-11-02T14:00:00Z", selecting: 1},
		{name: "Friday 16:00 in Berlin: the allow window is open but the deny window decides, until Monday; the allow window's closing changes nothing",
			st: prod, windows: []*kargoapi.PromotionWindow{office, weekend},
			now: utc(t, "2026-10-30T15:30:00Z"), window: "no-weekend-prod", change: "2026-11-02T14:00:00Z", selecting: 2},
		{name: "a window closed at every hour never changes", st: prod, windows: []*kargoapi.PromotionWindow{always, weekend},
			now: utc(t, "2026-10-28T12:00:00Z"), window: "always-closed", selecting: 2},
		{name: "a window that cannot be read decides, for good", st: test, windows: []*kargoapi.PromotionWindow{broken},
			now: utc(t, "2026-10-28T12:00:00Z"), window: "typo", selecting: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ws []kargoapi.PromotionWindow
			for _, w := range c.windows {
				ws = append(ws, *w)
			}
			d := Decide(c.st, ws, c.now)
			require.Equal(t, c.open, d.Open)
			require.Equal(t, d.Open, d.Stop == nil)
			require.Equal(t, c.open, CheckWindows(c.st, ws, c.now) == nil, "Decide agrees with CheckWindows")
			if c.window == "" {
				require.Nil(t, d.Window)
			} else {
				require.NotNil(t, d.Window)
				require.Equal(t, c.window, d.Window.Name)
			}
			if c.change == "" {
				require.True(t, d.Change.IsZero(), "changes at %s", d.Change)
			} else {
				require.Equal(t, utc(t, c.change), d.Change.UTC())
				require.Equal(t, !c.open, CheckWindows(c.st, ws, d.Change) == nil, "at the change the decision is the other one")
				require.Equal(t, c.open, CheckWindows(c.st, ws, d.Change.Add(-time.Second)) == nil, "and not before")
			}
			require.Equal(t, c.selecting, d.Selecting)
		})
	}
}
