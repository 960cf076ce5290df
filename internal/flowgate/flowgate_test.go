package flowgate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

func TestCheck(t *testing.T) {
	// Saturday noon in Berlin, inside the weekend deny window.
	saturday := at(t, "Europe/Berlin", "2026-10-24 12:00")
	wednesday := at(t, "Europe/Berlin", "2026-10-28 12:00")
	set := time.Date(2026, 10, 24, 9, 0, 0, 0, time.UTC)
	frozen := &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	frozen.Status.Freeze = &kargoapi.Hold{By: "bob", Reason: "incident 42", At: metav1.NewTime(set)}
	weekend := objects.PromotionWindow("p", "no-weekend-prod", kargoapi.PromotionWindowDeny, "Europe/Berlin", "Fri 16:00", "Mon 08:00")
	weekend.Spec.Stages.Names = []string{"prod*"}
	weekend.Spec.Description = "no prod promotions over the weekend"
	office := objects.PromotionWindow("p", "office-hours", kargoapi.PromotionWindowAllow, "Europe/Berlin", "09:00", "17:00")
	office.Spec.Spans[0].Days = []string{"Mon", "Tue", "Wed", "Thu", "Fri"}
	broken := objects.PromotionWindow("p", "typo", kargoapi.PromotionWindowDeny, "Europe/Berlln", "Fri 16:00", "Mon 08:00")
	prod := objects.Stage("p", "prod")
	held := objects.Stage("p", "prod", objects.HeldBy("alice", "bad release", set))
	test := objects.Stage("p", "test")

	cases := []struct {
		name     string
		st       *kargoapi.Stage
		project  *kargoapi.Project
		windows  []kargoapi.PromotionWindow
		now      time.Time
		override bool
		want     StopKind // "" for none
		contains []string
	}{
		{name: "nothing stops", st: prod, now: saturday},
		{name: "a hold stops", st: held, now: wednesday, want: StopHold, contains: []string{"held by alice", "bad release", "kargo release stage prod"}},
		{name: "a hold is not overridden by the window override", st: held, now: wednesday, override: true, want: StopHold},
		{name: "a freeze stops every Stage", st: test, project: frozen, now: wednesday, want: StopFreeze, contains: []string{"frozen by bob", "incident 42"}},
		{name: "the hold is named first", st: held, project: frozen, now: wednesday, want: StopHold},
		{name: "an open deny window stops the Stages it selects", st: prod, windows: []kargoapi.PromotionWindow{*weekend}, now: saturday, want: StopWindow,
			contains: []string{"no-weekend-prod", "no prod promotions over the weekend", "Mon 2026-10-26 08:00 CET", "2026-10-26T07:00:00Z", "override-window"}},
		{name: "and not the others", st: test, windows: []kargoapi.PromotionWindow{*weekend}, now: saturday},
		{name: "a closed deny window stops nothing", st: prod, windows: []kargoapi.PromotionWindow{*weekend}, now: wednesday},
		{name: "the override lets a manual promotion through a window", st: prod, windows: []kargoapi.PromotionWindow{*weekend}, now: saturday, override: true},
		{name: "allow windows, all closed, stop until the first opens", st: test, windows: []kargoapi.PromotionWindow{*office}, now: saturday, want: StopWindow,
			contains: []string{"office-hours", "is closed", "Mon 2026-10-26 09:00 CET"}},
		{name: "an open allow window lets through", st: test, windows: []kargoapi.PromotionWindow{*office}, now: wednesday},
		{name: "deny wins over an open allow window", st: prod, windows: []kargoapi.PromotionWindow{*office, *weekend},
			now: at(t, "Europe/Berlin", "2026-10-23 16:30"), want: StopWindow, contains: []string{"no-weekend-prod"}},
		{name: "a window that cannot be read stops rather than letting through", st: test, windows: []kargoapi.PromotionWindow{*broken}, now: wednesday, want: StopWindow,
			contains: []string{"typo", "cannot be read", "Europe/Berlln"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stop := Check(c.st, c.project, c.windows, c.now, c.override)
			if c.want == "" {
				require.Nil(t, stop)
				return
			}
			require.NotNil(t, stop)
			require.Equal(t, c.want, stop.Kind)
			for _, s := range c.contains {
				require.Contains(t, stop.Message(), s)
			}
			require.NotEmpty(t, stop.Short())
		})
	}
}
