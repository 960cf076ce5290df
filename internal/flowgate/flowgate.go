// Package flowgate decides whether a Promotion may start now, as far as
// people's stops on the flow say: a Stage's hold, its Project's freeze, and
// the PromotionWindows that select the Stage. Its functions are pure: the
// Promotion controller gathers the objects and the time, and acts on the
// answer; the CLI shows the same answer in `kargo get stages`.
package flowgate

import (
	"fmt"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// StopKind is what kind of stop keeps promotions out.
type StopKind string

const (
	// StopHold is a Stage's hold.
	StopHold StopKind = "Hold"
	// StopFreeze is a Project's freeze.
	StopFreeze StopKind = "Freeze"
	// StopWindow is a PromotionWindow: a Deny window that is open, or
	// Allow windows none of which is.
	StopWindow StopKind = "Window"
)

// Stop is what keeps promotions out of a Stage now.
type Stop struct {
	Kind StopKind
	// Stage and Project name where the stop is.
	Stage, Project string
	// Hold is the hold or freeze, for StopHold and StopFreeze.
	Hold *kargoapi.Hold
	// Window is the window, for StopWindow; Invalid is set when a window
	// that cannot be read (a bad time zone) keeps promotions out.
	Window  *Window
	Invalid error
	// Until is when a window's stop ends, if no other stop follows; zero
	// for holds and freezes (until released) and windows that never end.
	Until time.Time
}

// Message says what keeps the Promotion waiting, who set it, and until
// when.
func (s *Stop) Message() string {
	switch s.Kind {
	case StopHold:
		return fmt.Sprintf("Waiting: Stage %s is held by %s since %s (%q); Promotions into it start once it is released (kargo release stage %s)",
			s.Stage, s.Hold.By, s.Hold.At.UTC().Format(time.RFC3339), s.Hold.Reason, s.Stage)
	case StopFreeze:
		return fmt.Sprintf("Waiting: project %s is frozen by %s since %s (%q); Promotions start once it is unfrozen (kargo unfreeze project %s)",
			s.Project, s.Hold.By, s.Hold.At.UTC().Format(time.RFC3339), s.Hold.Reason, s.Project)
	}
	if s.Invalid != nil {
		return fmt.Sprintf("Waiting: PromotionWindow %s selects Stage %s but cannot be read (%v); Promotions wait until it is fixed or deleted",
			s.Window.Name, s.Stage, s.Invalid)
	}
	w := s.Window
	what := "is open"
	if w.Kind == kargoapi.PromotionWindowAllow {
		what = "is closed (and so is every other Allow window of the Stage)"
	}
	desc := ""
	if w.Description != "" {
		desc = fmt.Sprintf(" (%q)", w.Description)
	}
	until := "until the window is changed or deleted"
	if !s.Until.IsZero() {
		local := s.Until.In(w.Location())
		until = fmt.Sprintf("until %s (%s)", local.Format("Mon 2006-01-02 15:04 MST"), s.Until.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("Waiting: %s PromotionWindow %s%s %s for Stage %s: Promotions wait %s; someone with the %s verb on the Stage may promote with --override-window",
		w.Kind, w.Name, desc, what, s.Stage, until, kargoapi.OverrideWindowVerb)
}

// Short is the stop in a few words, for a table cell.
func (s *Stop) Short() string {
	switch s.Kind {
	case StopHold:
		return fmt.Sprintf("held by %s: %s", s.Hold.By, s.Hold.Reason)
	case StopFreeze:
		return fmt.Sprintf("frozen by %s: %s", s.Hold.By, s.Hold.Reason)
	}
	if s.Invalid != nil {
		return fmt.Sprintf("window %s invalid", s.Window.Name)
	}
	if s.Until.IsZero() {
		return "window " + s.Window.Name
	}
	return fmt.Sprintf("window %s until %s", s.Window.Name, s.Until.In(s.Window.Location()).Format("Mon 15:04 MST"))
}

// Check returns what keeps promotions out of st now, or nil: its hold, else
// its project's freeze (project may be nil), else its windows (see
// CheckWindows) unless overrideWindows.
func Check(st *kargoapi.Stage, project *kargoapi.Project, windows []kargoapi.PromotionWindow, now time.Time, overrideWindows bool) *Stop {
	if h := st.Status.Hold; h != nil {
		return &Stop{Kind: StopHold, Stage: st.Name, Project: st.Namespace, Hold: h}
	}
	if project != nil && project.Status.Freeze != nil {
		return &Stop{Kind: StopFreeze, Stage: st.Name, Project: st.Namespace, Hold: project.Status.Freeze}
	}
	if overrideWindows {
		return nil
	}
	return CheckWindows(st, windows, now)
}

// CheckWindows returns the window that keeps promotions out of st at now,
// or nil. An open Deny window that selects st keeps them out until the last
// of its open spans closes; otherwise, when Allow windows select st and
// none is open, they keep promotions out until the first of them opens. A
// window that cannot be read and selects st (or whose stages cannot be
// told) keeps them out: a schedule someone meant to stop promotions must
// not let them through for a typo. A window that cannot be read is
// taken to select every Stage, since what it selects cannot be trusted
// either.
func CheckWindows(st *kargoapi.Stage, windows []kargoapi.PromotionWindow, now time.Time) *Stop {
	var allows []*Window
	for i := range windows {
		w, err := ParseWindow(&windows[i])
		if err != nil {
			return &Stop{Kind: StopWindow, Stage: st.Name, Project: st.Namespace, Window: &Window{Name: windows[i].Name, loc: time.UTC}, Invalid: err}
		}
		if !w.Selects(st) {
			continue
		}
		if w.Kind == kargoapi.PromotionWindowAllow {
			allows = append(allows, w)
			continue
		}
		if open, until := w.Open(now); open {
			return &Stop{Kind: StopWindow, Stage: st.Name, Project: st.Namespace, Window: w, Until: until}
		}
	}
	if len(allows) == 0 {
		return nil
	}
	var first *Window
	var opens time.Time
	for _, w := range allows {
		if open, _ := w.Open(now); open {
			return nil
		}
		if o := w.NextOpen(now); first == nil || (!o.IsZero() && (opens.IsZero() || o.Before(opens))) {
			first, opens = w, o
		}
	}
	return &Stop{Kind: StopWindow, Stage: st.Name, Project: st.Namespace, Window: first, Until: opens}
}
