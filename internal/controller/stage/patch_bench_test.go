package stage

import (
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/availability"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// BenchmarkAvailableFreightPatch measures the status merge patch the Stage
// controller sends when one new Freight arrives for a Stage whose list is
// full: its size (a merge patch replaces a list, so it carries the whole
// list) and the time to build it.
func BenchmarkAvailableFreightPatch(b *testing.B) {
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	all := make([]kargoapi.Freight, availability.ListedPerOrigin+1)
	for i := range all {
		all[i] = *objects.Freight("p", objects.Image("registry.example.com/app", fmt.Sprintf("1.0.%d", i)), objects.Alias(fmt.Sprintf("scale-%d", i)),
			objects.FreightCreated(t0.Add(time.Duration(i)*time.Second)))
	}
	before := objects.Stage("p", "test", objects.SubscribesTo(objects.DefaultWarehouse))
	before.ResourceVersion = "12345"
	before.Status.AvailableFreight = availability.List(before, all[:availability.ListedPerOrigin], availability.ListedPerOrigin, t0)
	st := before.DeepCopy()
	st.Status.AvailableFreight = availability.List(st, all, availability.ListedPerOrigin, t0)
	var size int
	for b.Loop() {
		data, err := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}).Data(st)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size), "patch-bytes")
}
