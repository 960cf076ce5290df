package server

import (
	"context"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// storeReader lists prebuilt objects the way the informer cache does
// without deep copies: one struct copy per item.
type storeReader struct {
	client.Reader
	items []runtime.Object
}

func (r storeReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	return meta.SetList(list, r.items)
}

// BenchmarkSnapshotAfterOneChange10k measures what a list request costs
// right after one of 10,000 Freight changed: listing the cache, reusing
// 9,999 encoded entries, encoding one and sorting.
func BenchmarkSnapshotAfterOneChange10k(b *testing.B) {
	items := make([]runtime.Object, 10000)
	for i := range items {
		f := testFreight("p", i)
		f.ResourceVersion = "1"
		items[i] = f
	}
	ls := newLists(storeReader{items: items})
	ctx := context.Background()
	if _, err := ls.snapshot(ctx, freightKind, "p"); err != nil {
		b.Fatal(err)
	}
	rv := 1
	for b.Loop() {
		rv++
		changed := items[rv%len(items)].(*kargoapi.Freight).DeepCopy()
		changed.ResourceVersion = strconv.Itoa(rv)
		items[rv%len(items)] = changed
		ls.changed(freightKind, "p")
		if _, err := ls.snapshot(ctx, freightKind, "p"); err != nil {
			b.Fatal(err)
		}
	}
}
