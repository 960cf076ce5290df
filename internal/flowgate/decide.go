package flowgate

import (
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// horizon bounds how far ahead Decide looks for the next change: every
// span repeats within a week, so a decision that does not change within
// eight days never does.
const horizon = 8 * 24 * time.Hour

// maxBoundaries bounds the span boundaries Decide steps through: a
// project's windows have a few spans each.
const maxBoundaries = 4096

// Decision is what a Stage's promotion windows say at one time, for a
// reader: whether they let promotions in, which window decides, and when
// that changes. It is CheckWindows' answer with its reasons, not a second
// reading of the schedules.
type Decision struct {
	// Open says whether the windows let promotions in now.
	Open bool
	// Stop keeps promotions out when not Open (CheckWindows' answer).
	Stop *Stop
	// Window is the window that decides: Stop's when closed; when open,
	// an open Allow window that lets promotions in, else the window that
	// closes the Stage at Change; nil when no window has a say.
	Window *Window
	// Change is when Open next flips; zero when it does not within eight
	// days (never: the schedules repeat weekly), or when a window cannot
	// be read.
	Change time.Time
	// Selecting counts the windows that select the Stage.
	Selecting int
}

// Decide returns what windows say about promotions into st at now: the
// decision CheckWindows makes now, and the first span boundary after now at
// which CheckWindows decides otherwise.
func Decide(st *kargoapi.Stage, windows []kargoapi.PromotionWindow, now time.Time) Decision {
	d := Decision{Stop: CheckWindows(st, windows, now)}
	d.Open = d.Stop == nil
	var parsed []*Window
	for i := range windows {
		w, err := ParseWindow(&windows[i])
		if err != nil {
			// CheckWindows stopped on it: nothing changes until it is fixed.
			d.Window, d.Selecting = d.Stop.Window, 1
			return d
		}
		if w.Selects(st) {
			parsed = append(parsed, w)
		}
	}
	d.Selecting = len(parsed)
	if d.Stop != nil {
		d.Window = d.Stop.Window
	} else {
		for _, w := range parsed {
			if open, _ := w.Open(now); open && w.Kind == kargoapi.PromotionWindowAllow {
				d.Window = w
				break
			}
		}
	}
	t := now
	for range maxBoundaries {
		next := time.Time{}
		for _, w := range parsed {
			if b := w.nextBoundary(t); !b.IsZero() && (next.IsZero() || b.Before(next)) {
				next = b
			}
		}
		if next.IsZero() || next.Sub(now) > horizon {
			return d
		}
		if stop := CheckWindows(st, windows, next); (stop == nil) != d.Open {
			d.Change = next
			if d.Window == nil && stop != nil {
				d.Window = stop.Window
			}
			return d
		}
		t = next
	}
	return d
}

// nextBoundary is the first time after t at which one of the window's
// spans opens or closes; zero when none ever does.
func (w *Window) nextBoundary(t time.Time) time.Time {
	local := t.In(w.loc)
	var next time.Time
	for _, s := range w.spans {
		b := s.opensAt(local)
		if s.openAt(local) {
			b = s.closesAt(local)
		}
		if !b.IsZero() && (next.IsZero() || b.Before(next)) {
			next = b
		}
	}
	return next
}
