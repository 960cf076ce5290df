package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// TestStopsColumn: kargo get stages shows a STOP column, before AGE, once
// something keeps Promotions out of a Stage listed, naming the hold, the
// freeze or the window, who set it and why; without any stop the table is
// the usual one. The fixed clock (Saturday 21 November 2026, 12:00 UTC) is
// inside the weekend window.
func TestStopsColumn(t *testing.T) {
	clock := func() time.Time { return now }
	stages := func(opts ...objects.Option[kargoapi.Stage]) []object {
		prod := objects.Stage("kargo-demo", "prod", opts...)
		prod.CreationTimestamp = ago(time.Hour)
		test := objects.Stage("kargo-demo", "test")
		test.CreationTimestamp = ago(time.Hour)
		return asListed(t, stageType, []client.Object{prod, test})
	}
	weekend := objects.PromotionWindow("kargo-demo", "no-weekend-prod", kargoapi.PromotionWindowDeny, "Europe/Berlin", "Fri 16:00", "Mon 08:00")
	weekend.Spec.Stages.Names = []string{"prod"}

	plain := render(t, stopsTable(stageType, nil, nil, clock), stages(), "", false)
	require.Equal(t, string(render(t, stageType, stages(), "", false)), string(plain), "no stop, no column")

	golden(t, "table_stages_held", render(t, stopsTable(stageType, nil, nil, clock),
		stages(objects.HeldBy("alice", "checkout errors since 14:02, investigating with the payments team", now.Add(-5*time.Minute))), "", false))
	freeze := &kargoapi.Hold{By: "bob", Reason: "incident 4711", At: metav1.NewTime(now.Add(-time.Hour))}
	golden(t, "table_stages_frozen", render(t, stopsTable(stageType, freeze, nil, clock), stages(), "", false))
	golden(t, "table_stages_window", render(t, stopsTable(stageType, nil, []kargoapi.PromotionWindow{*weekend}, clock), stages(), "", false))
}
