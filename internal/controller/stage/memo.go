package stage

import (
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// freightMemo remembers, for each Stage, what its last pass worked out from
// its project's Freight (the available Freight, the aliases of the Freight
// its status names, when a soak time next ends), so that a pass that
// changes nothing (the health pass every Stage makes every 30 seconds) does
// not list the project's Freight and work them out again. With hundreds of
// Freight a project, that work was most of an idle controller's CPU.
//
// What a pass works out depends on the Stage (its spec, and the Freight
// its status names), on the project's Freight and on the time (soak
// times). An entry is used only when none of them moved: the Stage's
// resourceVersion is the one the entry was worked out from, no Freight of
// the project changed since (epoch, bumped by every Freight event), and no
// soak time has ended since.
type freightMemo struct {
	mu      sync.Mutex
	epochs  map[string]uint64 // namespace → Freight events seen
	entries map[types.NamespacedName]memoEntry
}

type memoEntry struct {
	epoch           uint64
	resourceVersion string
	// available is the list the pass worked out while its write waits
	// (holdAvailable); once the Stage's status holds it, nil, so that
	// thousands of Stages do not keep a second copy of their lists.
	available []kargoapi.SimpleFreight
	settled   bool
	// soakEnd is when a soak time next ends, zero when none runs.
	soakEnd time.Time
}

// bump records that a Freight of namespace changed. The informer has
// stored the change before its event reaches here, so a pass that read the
// epoch before the bump and listed after the change is worked out again
// next time anyway.
func (m *freightMemo) bump(namespace string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.epochs == nil {
		m.epochs = map[string]uint64{}
	}
	m.epochs[namespace]++
}

// epoch returns the Freight events seen in namespace; read it before
// listing the Freight a pass works from.
func (m *freightMemo) epoch(namespace string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.epochs[namespace]
}

// lookup returns what st's last pass worked out, if it still holds at now
// with the project's Freight at epoch.
func (m *freightMemo) lookup(st *kargoapi.Stage, epoch uint64, now time.Time) (memoEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[types.NamespacedName{Namespace: st.Namespace, Name: st.Name}]
	if !ok || e.epoch != epoch || e.resourceVersion != st.ResourceVersion || (!e.soakEnd.IsZero() && !now.Before(e.soakEnd)) {
		return memoEntry{}, false
	}
	return e, true
}

// store remembers what a pass over st (as read, before its changes) worked
// out. available is copied: the pass's Stage goes on to be changed.
func (m *freightMemo) store(st *kargoapi.Stage, epoch uint64, available []kargoapi.SimpleFreight, soakEnd time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[types.NamespacedName]memoEntry{}
	}
	m.entries[types.NamespacedName{Namespace: st.Namespace, Name: st.Name}] = memoEntry{
		epoch: epoch, resourceVersion: st.ResourceVersion, available: slices.Clone(available), soakEnd: soakEnd,
	}
}

// settle says that the Stage's stored status (at resourceVersion) holds
// what its entry's pass worked out, which the entry then need not keep.
func (m *freightMemo) settle(key types.NamespacedName, resourceVersion string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && e.resourceVersion == resourceVersion {
		e.available, e.settled = nil, true
		m.entries[key] = e
	}
}

// wrote moves st's entry from the resourceVersion its pass read (from) to
// the one the pass's own status write made: that write changed nothing the
// entry depends on (the Stage's spec, or the aliases the pass put right),
// and the write's optimistic lock says nothing came between.
func (m *freightMemo) wrote(key types.NamespacedName, from, to string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && e.resourceVersion == from {
		e.resourceVersion = to
		e.available, e.settled = nil, true
		m.entries[key] = e
	}
}

// forget drops st's entry: its Stage is gone, or a pass's write failed, so
// that what the pass worked out may not be stored.
func (m *freightMemo) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
}
