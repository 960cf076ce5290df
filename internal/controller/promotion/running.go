package promotion

import (
	"context"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// DefaultRunningAfter is how long a Promotion runs before its Running phase
// is written on its own, when no durable step record has carried it yet.
const DefaultRunningAfter = time.Second

// runningNote writes a started Promotion's Running phase, its start time
// and its message once it has run for a while without a durable write.
// markRunning only sets them in memory, to ride on the first write that
// must be durable or on the end: a Promotion that ends within the delay
// costs no write for them. One that takes longer (a clone from a slow Git
// host, a step that waits) must not look Pending to whoever watches it
// (kargo promote --wait, the UI, kubectl), so the note writes them then.
//
// The note patches a copy taken before the steps start, so it never reads
// what the engine is changing; stop, called before every other write of the
// Promotion's status, waits for a write in flight and cancels the rest, so
// the note never lands after a later record.
type runningNote struct {
	mu      sync.Mutex
	stopped bool
	timer   *time.Timer
}

// noteRunning arranges the write of promo's Running phase after delay,
// unless the stored Promotion (stored) already says Running. It returns
// the note, whose stop must be called before any other status write.
func (r *Reconciler) noteRunning(ctx context.Context, stored, promo *kargoapi.Promotion) *runningNote {
	n := &runningNote{}
	if stored.Status.Phase == kargoapi.PromotionPhaseRunning {
		n.stopped = true
		return n
	}
	base := stored.DeepCopy()
	running := stored.DeepCopy()
	running.Status.Phase = promo.Status.Phase
	running.Status.StartTime = promo.Status.StartTime.DeepCopy()
	running.Status.Message = promo.Status.Message
	running.Status.ObservedGeneration = promo.Status.ObservedGeneration
	delay := r.RunningAfter
	if delay <= 0 {
		delay = DefaultRunningAfter
	}
	n.timer = time.AfterFunc(delay, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.stopped {
			return
		}
		n.stopped = true
		if err := r.Client.Status().Patch(ctx, running, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			// The next write carries the phase anyway; this one only
			// shows it sooner.
			ctrl.LoggerFrom(ctx).Error(err, "record that Promotion runs", "promotion", running.Name)
		}
	})
	return n
}

// stop cancels the note, waiting for its write when it is being made.
func (n *runningNote) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = true
	if n.timer != nil {
		n.timer.Stop()
	}
}
