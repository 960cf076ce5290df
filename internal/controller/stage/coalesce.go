package stage

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/collection"
)

// AvailableFreightWindow is how often, at most, the Stage controller writes
// a Stage's status when the only thing that changed is its available
// Freight. A burst of Freight for one Warehouse would otherwise cost every
// Stage subscribed to it one status write per Freight, each carrying the
// whole list (a merge patch replaces a list) and each a watch event for
// every client of Stages. The first change is written at once; changes
// within the window after a write wait for its end and go out together.
// Nothing acts on the list: promotions, auto-promotion, the API server and
// the UI decide availability from the Freight themselves.
const AvailableFreightWindow = time.Second

// availableWrites remembers, per Stage, when this controller last wrote its
// available Freight. It lives in memory: after a restart the first change is
// written at once, which is what the window allows anyway.
type availableWrites struct {
	mu   sync.Mutex
	last map[types.NamespacedName]time.Time
}

func (w *availableWrites) get(key types.NamespacedName) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.last[key]
	return t, ok
}

func (w *availableWrites) set(key types.NamespacedName, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		w.last = map[types.NamespacedName]time.Time{}
	}
	w.last[key] = at
}

func (w *availableWrites) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.last, key)
}

// holdAvailable returns how much longer st's new status may wait, or zero
// when it must be written now: it may wait only while the list of available
// Freight (and the count of it in the Ready message) is all that changed
// since before, and the list was written less than window before now.
func (w *availableWrites) holdAvailable(key types.NamespacedName, before, st *kargoapi.Stage, window time.Duration, now time.Time) time.Duration {
	last, ok := w.get(key)
	if !ok || now.Sub(last) >= window || !onlyAvailableChanged(before, st) {
		return 0
	}
	return last.Add(window).Sub(now)
}

// onlyAvailableChanged reports whether st's status differs from before's in
// availableFreight alone, and in the Ready message only as far as it counts
// the available Freight.
func onlyAvailableChanged(before, st *kargoapi.Stage) bool {
	held := st.DeepCopy()
	held.Status.AvailableFreight = before.Status.AvailableFreight
	now, was := meta.FindStatusCondition(held.Status.Conditions, kargoapi.ConditionReady), meta.FindStatusCondition(before.Status.Conditions, kargoapi.ConditionReady)
	if now != nil && was != nil && now.Message != was.Message && now.Message == collection.ReadyMessage(st) && was.Message == collection.ReadyMessage(held) {
		now.Message = was.Message
	}
	return equality.Semantic.DeepEqual(before.Status, held.Status)
}
