package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	kargoscheme "github.com/kargohq/kargo/internal/scheme"
)

var epoch = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// testFreight is Freight discovered i seconds after epoch.
func testFreight(ns string, i int) *kargoapi.Freight {
	return &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{
		Name: fmt.Sprintf("%040x", i), Namespace: ns, UID: types.UID(fmt.Sprint("uid-", i)),
		Annotations: map[string]string{kargoapi.DiscoveredAtAnnotationKey: epoch.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)},
	}}
}

// pagingServer is a Server whose lists read from a fake client holding n
// Freight in namespace ns, and a clock the test moves.
func pagingServer(t *testing.T, ns string, n int) (*Server, client.Client, *time.Time) {
	t.Helper()
	scheme, err := kargoscheme.New()
	require.NoError(t, err)
	b := fake.NewClientBuilder().WithScheme(scheme)
	for i := range n {
		b = b.WithObjects(testFreight(ns, i))
	}
	c := b.Build()
	now := epoch
	s := &Server{instance: "this-one", lists: newLists(c)}
	s.lists.now = func() time.Time { return now }
	return s, c, &now
}

// readAll pages through the list, calling between after each page, and
// returns the names in order.
func readAll(t *testing.T, s *Server, ns string, limit int, between func(page int)) (names []string, totals []int) {
	t.Helper()
	tok := ""
	for i := 0; ; i++ {
		p, err := s.page(context.Background(), freightKind, ns, tok, limit)
		require.NoError(t, err)
		for _, e := range p.entries {
			names = append(names, e.obj.GetName())
		}
		totals = append(totals, p.total)
		if p.next == "" {
			return names, totals
		}
		tok = p.next
		between(i)
	}
}

func TestPagesOfOneListingAreOneList(t *testing.T) {
	const ns = "p"
	cases := []struct {
		name string
		// change runs after the first page.
		change func(t *testing.T, s *Server, c client.Client, now *time.Time)
		// wantTotals are the totals each page reports.
		wantTotals []int
		// wantNew says whether the Freight added is listed.
		wantNew bool
	}{
		{
			name:       "nothing changes",
			change:     func(*testing.T, *Server, client.Client, *time.Time) {},
			wantTotals: []int{10, 10, 10, 10},
		},
		{
			name: "Freight added and deleted while the snapshot is retained",
			change: func(t *testing.T, s *Server, c client.Client, _ *time.Time) {
				require.NoError(t, c.Create(context.Background(), testFreight(ns, 100)))
				require.NoError(t, c.Delete(context.Background(), testFreight(ns, 0)))
				s.lists.changed(freightKind, ns)
			},
			wantTotals: []int{10, 10, 10, 10},
		},
		{
			name: "snapshot gone: continue after the last key in today's list",
			change: func(t *testing.T, s *Server, c client.Client, now *time.Time) {
				// Newer than everything, so before the page boundary: not
				// listed, and nothing shifts into a duplicate.
				require.NoError(t, c.Create(context.Background(), testFreight(ns, 100)))
				s.lists.changed(freightKind, ns)
				_, err := s.lists.snapshot(context.Background(), freightKind, ns)
				require.NoError(t, err)
				*now = now.Add(snapshotRetention + time.Minute)
				s.lists.changed(freightKind, ns)
				_, err = s.lists.snapshot(context.Background(), freightKind, ns)
				require.NoError(t, err)
			},
			wantTotals: []int{10, 11, 11, 11},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, cl, now := pagingServer(t, ns, 10)
			first := true
			names, totals := readAll(t, s, ns, 3, func(int) {
				if first {
					c.change(t, s, cl, now)
					first = false
				}
			})
			want := []string{}
			for i := 9; i >= 0; i-- {
				want = append(want, testFreight(ns, i).Name)
			}
			require.Equal(t, want, names, "newest first, each once")
			require.Equal(t, c.wantTotals, totals)
		})
	}
}

func TestAnotherInstancesTokenContinuesByKey(t *testing.T) {
	s, _, _ := pagingServer(t, "p", 5)
	p, err := s.page(context.Background(), freightKind, "p", "", 2)
	require.NoError(t, err)
	other := &Server{instance: "another", lists: s.lists}
	p2, err := other.page(context.Background(), freightKind, "p", p.next, 2)
	require.NoError(t, err)
	require.Equal(t, testFreight("p", 2).Name, p2.entries[0].obj.GetName())
}

func TestContinueTokenRefusals(t *testing.T) {
	s, _, _ := pagingServer(t, "p", 5)
	p, err := s.page(context.Background(), freightKind, "p", "", 2)
	require.NoError(t, err)
	for _, c := range []struct{ name, ns, token, want string }{
		{"not base64", "p", "!!", "not one this server issued"},
		{"not JSON", "p", "bm90IGpzb24", "not one this server issued"},
		{"another list", "q", p.next, "another list"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.page(context.Background(), freightKind, c.ns, c.token, 2)
			require.ErrorContains(t, err, c.want)
			st, _ := statusOf(err)
			require.EqualValues(t, 400, st.Code)
		})
	}
}

func TestRetainedSnapshotsAreBounded(t *testing.T) {
	s, _, now := pagingServer(t, "p", 3)
	for range maxRetained + 5 {
		p, err := s.page(context.Background(), freightKind, "p", "", 1)
		require.NoError(t, err)
		require.NotEmpty(t, p.next)
		s.lists.changed(freightKind, "p")
		*now = now.Add(time.Second)
	}
	_, err := s.lists.snapshot(context.Background(), freightKind, "p")
	require.NoError(t, err)
	require.Len(t, s.lists.list(freightKind, "p").retained, maxRetained)
	*now = now.Add(snapshotRetention)
	require.Nil(t, s.lists.retainedSnapshot(freightKind, "p", 1))
	require.Empty(t, s.lists.list(freightKind, "p").retained)
}

func TestParseLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		err  bool
	}{
		{"", defaultLimit, false},
		{"0", defaultLimit, false},
		{"1", 1, false},
		{"5000", 5000, false},
		{"5001", maxLimit, false},
		{"-1", 0, true},
		{"ten", 0, true},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseLimit(c.in)
			if c.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestSortOrder(t *testing.T) {
	at := func(d time.Duration) string { return epoch.Add(d).Format(time.RFC3339Nano) }
	freight := func(name, discovered string, created time.Time) *kargoapi.Freight {
		f := &kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)}}
		if discovered != "" {
			f.Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: discovered}
		}
		return f
	}
	cases := []struct {
		name        string
		kind        *kind
		first, then client.Object
	}{
		{"Freight: nanoseconds of discovery beat the same second", freightKind,
			freight("b", at(900*time.Millisecond), epoch), freight("a", at(100*time.Millisecond), epoch)},
		{"Freight: a far-future annotation does not beat newer Freight", freightKind,
			freight("a", "", epoch.Add(time.Second)), freight("b", "2999-01-01T00:00:00Z", epoch)},
		{"Freight: without the annotation, creation time", freightKind,
			freight("b", "", epoch.Add(time.Minute)), freight("a", "", epoch)},
		{"Freight: same discovery, newer creation", freightKind,
			freight("b", at(0), epoch.Add(time.Second)), freight("a", at(0), epoch)},
		{"Freight: all equal, by name", freightKind,
			freight("a", at(0), epoch), freight("b", at(0), epoch)},
		{"Promotions: newest first", promotionKind,
			&kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "z", CreationTimestamp: metav1.NewTime(epoch.Add(time.Second))}},
			&kargoapi.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "a", CreationTimestamp: metav1.NewTime(epoch)}}},
		{"Stages: by name", stageKind,
			&kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "prod", CreationTimestamp: metav1.NewTime(epoch)}},
			&kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "test", CreationTimestamp: metav1.NewTime(epoch.Add(time.Hour))}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.True(t, c.kind.order(c.first).before(c.kind.order(c.then)))
			require.False(t, c.kind.order(c.then).before(c.kind.order(c.first)))
		})
	}
}

func TestIsFreightName(t *testing.T) {
	require.True(t, isFreightName("404df86560cab5d515e7aa74653e665c1dc96e1c"))
	require.False(t, isFreightName("mortal-dragonfly"))
	require.False(t, isFreightName("404DF86560CAB5D515E7AA74653E665C1DC96E1C"))
	require.False(t, isFreightName("404df86560cab5d515e7aa74653e665c1dc96e1"))
}

func TestIdleListsAreDropped(t *testing.T) {
	s, _, now := pagingServer(t, "p", 3)
	first, err := s.lists.snapshot(context.Background(), freightKind, "p")
	require.NoError(t, err)
	*now = now.Add(idleAfter - time.Second)
	s.lists.sweep()
	again, err := s.lists.snapshot(context.Background(), freightKind, "p")
	require.NoError(t, err)
	require.Same(t, first, again, "a list read recently is kept")

	*now = now.Add(idleAfter)
	s.lists.sweep()
	require.Nil(t, s.lists.list(freightKind, "p").current)
	rebuilt, err := s.lists.snapshot(context.Background(), freightKind, "p")
	require.NoError(t, err)
	require.Len(t, rebuilt.entries, 3)
}
