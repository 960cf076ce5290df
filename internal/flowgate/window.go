package flowgate

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// weekdays maps the day names of spans to time.Weekday.
var weekdays = map[string]time.Weekday{
	"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday, "Wed": time.Wednesday,
	"Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday,
}

// span is a PromotionWindowSpan parsed: minutes since local midnight of its
// start and end, and either the weekdays of a weekly span (startDay,
// endDay) or the days a daily span opens on (days; nil means every day).
type span struct {
	weekly           bool
	startDay, endDay time.Weekday
	start, end       int
	days             map[time.Weekday]bool
}

// parseClock reads "HH:MM" or "Day HH:MM".
func parseClock(s string) (day time.Weekday, hasDay bool, minute int, err error) {
	clock := s
	if d, rest, ok := strings.Cut(s, " "); ok {
		wd, known := weekdays[d]
		if !known {
			return 0, false, 0, fmt.Errorf("%q: %q is not a day (Mon, Tue, Wed, Thu, Fri, Sat or Sun)", s, d)
		}
		day, hasDay, clock = wd, true, rest
	}
	hh, mm, ok := strings.Cut(clock, ":")
	h, herr := strconv.Atoi(hh)
	m, merr := strconv.Atoi(mm)
	if !ok || herr != nil || merr != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, false, 0, fmt.Errorf("%q is not a time of day HH:MM, optionally after a day (\"Fri 16:00\")", s)
	}
	return day, hasDay, h*60 + m, nil
}

// parseSpan reads a span of a window's spec.
func parseSpan(in kargoapi.PromotionWindowSpan) (span, error) {
	sd, sHas, sm, err := parseClock(in.Start)
	if err != nil {
		return span{}, fmt.Errorf("start %w", err)
	}
	ed, eHas, em, err := parseClock(in.End)
	if err != nil {
		return span{}, fmt.Errorf("end %w", err)
	}
	if sHas != eHas {
		return span{}, fmt.Errorf("start %q and end %q must both name a weekday or neither", in.Start, in.End)
	}
	sp := span{weekly: sHas, startDay: sd, endDay: ed, start: sm, end: em}
	if sHas && len(in.Days) > 0 {
		return span{}, fmt.Errorf("days applies to daily spans only, not to %q to %q", in.Start, in.End)
	}
	for _, d := range in.Days {
		wd, ok := weekdays[d]
		if !ok {
			return span{}, fmt.Errorf("days: %q is not a day (Mon, Tue, Wed, Thu, Fri, Sat or Sun)", d)
		}
		if sp.days == nil {
			sp.days = map[time.Weekday]bool{}
		}
		sp.days[wd] = true
	}
	return sp, nil
}

// weekMinute is the minute of the week of a wall-clock time, from Sunday
// 00:00.
func weekMinute(d time.Weekday, minute int) int { return int(d)*1440 + minute }

func (s span) onDay(d time.Weekday) bool { return s.days == nil || s.days[d] }

// openAt says whether the span is open at the local wall-clock time t.
func (s span) openAt(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if s.weekly {
		pos, a, b := weekMinute(t.Weekday(), m), weekMinute(s.startDay, s.start), weekMinute(s.endDay, s.end)
		switch {
		case a == b:
			return true // the whole week
		case a < b:
			return a <= pos && pos < b
		default:
			return pos >= a || pos < b
		}
	}
	switch {
	case s.start == s.end:
		return s.onDay(t.Weekday())
	case s.start < s.end:
		return s.onDay(t.Weekday()) && s.start <= m && m < s.end
	default: // past midnight, into the next day
		return (s.onDay(t.Weekday()) && m >= s.start) || (s.onDay(t.AddDate(0, 0, -1).Weekday()) && m < s.end)
	}
}

// nextWall returns the first time after t (local to t's location) at which
// the wall clock shows minute on one of the days ok accepts. A wall-clock
// time a daylight saving change skips is the instant time.Date normalises
// it to (02:30 on a spring-forward night is 03:30).
func nextWall(t time.Time, minute int, ok func(time.Weekday) bool) time.Time {
	y, mo, d := t.Date()
	for i := 0; i <= 8; i++ {
		c := time.Date(y, mo, d+i, minute/60, minute%60, 0, 0, t.Location())
		if ok(time.Date(y, mo, d+i, 12, 0, 0, 0, t.Location()).Weekday()) && c.After(t) {
			return c
		}
	}
	return time.Time{}
}

// closesAt is when the span, open at t, next closes; zero for a span that
// never closes.
func (s span) closesAt(t time.Time) time.Time {
	if s.weekly {
		if weekMinute(s.startDay, s.start) == weekMinute(s.endDay, s.end) {
			return time.Time{}
		}
		return nextWall(t, s.end, func(d time.Weekday) bool { return d == s.endDay })
	}
	if s.start == s.end {
		if s.days == nil {
			return time.Time{}
		}
		// Open all day on its days: it closes at the first midnight
		// starting a day it is not open on.
		return nextWall(t, 0, func(d time.Weekday) bool { return !s.days[d] })
	}
	return nextWall(t, s.end, func(time.Weekday) bool { return true })
}

// opensAt is when the span, closed at t, next opens.
func (s span) opensAt(t time.Time) time.Time {
	if s.weekly {
		return nextWall(t, s.start, func(d time.Weekday) bool { return d == s.startDay })
	}
	return nextWall(t, s.start, s.onDay)
}

// Window is a PromotionWindow read for evaluation.
type Window struct {
	Name        string
	Kind        kargoapi.PromotionWindowKind
	Description string
	loc         *time.Location
	spans       []span
	stages      kargoapi.PromotionWindowStages
}

// ParseWindow reads w; an error says what of its spec is wrong.
func ParseWindow(w *kargoapi.PromotionWindow) (*Window, error) {
	loc := time.UTC
	if tz := w.Spec.TimeZone; tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			return nil, fmt.Errorf("timeZone %q is not an IANA time zone such as Europe/Berlin: %w", tz, err)
		}
	}
	out := &Window{Name: w.Name, Kind: w.Spec.Kind, Description: w.Spec.Description, loc: loc, stages: w.Spec.Stages}
	if out.Kind != kargoapi.PromotionWindowAllow && out.Kind != kargoapi.PromotionWindowDeny {
		return nil, fmt.Errorf("kind %q is neither Allow nor Deny", w.Spec.Kind)
	}
	if len(w.Spec.Spans) == 0 {
		return nil, fmt.Errorf("a window needs at least one span")
	}
	for i, s := range w.Spec.Spans {
		sp, err := parseSpan(s)
		if err != nil {
			return nil, fmt.Errorf("spans[%d]: %w", i, err)
		}
		out.spans = append(out.spans, sp)
	}
	for _, n := range w.Spec.Stages.Names {
		if _, err := path.Match(n, ""); err != nil {
			return nil, fmt.Errorf("stages.names: %q is not a glob: %w", n, err)
		}
	}
	if ls := w.Spec.Stages.LabelSelector; ls != nil {
		if _, err := metav1.LabelSelectorAsSelector(ls); err != nil {
			return nil, fmt.Errorf("stages.labelSelector: %w", err)
		}
	}
	return out, nil
}

// Selects says whether the window applies to st: every Stage when it names
// none and has no label selector, else those named (or matching a glob) and
// those its label selector matches.
func (w *Window) Selects(st *kargoapi.Stage) bool {
	sel := w.stages
	if len(sel.Names) == 0 && sel.LabelSelector == nil {
		return true
	}
	for _, n := range sel.Names {
		if ok, _ := path.Match(n, st.Name); ok {
			return true
		}
	}
	if sel.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(sel.LabelSelector)
		if err == nil && s.Matches(labels.Set(st.Labels)) {
			return true
		}
	}
	return false
}

// Open says whether one of the window's spans is open at now and, if so,
// when the last of the open ones closes (zero: never).
func (w *Window) Open(now time.Time) (bool, time.Time) {
	t := now.In(w.loc)
	open := false
	var until time.Time
	forever := false
	for _, s := range w.spans {
		if !s.openAt(t) {
			continue
		}
		open = true
		c := s.closesAt(t)
		if c.IsZero() {
			forever = true
		} else if c.After(until) {
			until = c
		}
	}
	if forever {
		return open, time.Time{}
	}
	return open, until
}

// NextOpen is when one of the window's spans next opens after now.
func (w *Window) NextOpen(now time.Time) time.Time {
	t := now.In(w.loc)
	var first time.Time
	for _, s := range w.spans {
		if o := s.opensAt(t); !o.IsZero() && (first.IsZero() || o.Before(first)) {
			first = o
		}
	}
	return first
}

// Location is the window's time zone.
func (w *Window) Location() *time.Location { return w.loc }
