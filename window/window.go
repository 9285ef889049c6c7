// Package window computes deploy windows: the times at which a source may
// change the host. A window opens at each time its cron schedule names and
// stays open for its duration, as Argo CD's sync windows do. With allow
// windows, changes are applied only while one of them is open; a deny
// window that is open forbids them whatever allows them (deny wins). A
// source without windows may change the host at any time.
//
// The package is pure: it reads no clock, and every answer is a function
// of the windows and the time it is asked about.
package window

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Kind says whether a window allows or denies changes.
type Kind string

// Window kinds.
const (
	Allow Kind = "allow"
	Deny  Kind = "deny"
)

// Window is one window: open at every time Schedule names, for Duration.
type Window struct {
	Kind     Kind
	Schedule cron.Schedule
	Duration time.Duration
}

// Windows are a source's windows; none means always open.
type Windows []Window

// maxSteps bounds the search for the next opening: a window set that stays
// closed for that many of its own openings is treated as never opening.
const maxSteps = 10000

// active reports whether w is open at t, and if so when the opening that
// covers t ends (the latest one, for a schedule whose openings overlap). An
// opening at f covers [f, f+Duration).
func (w Window) active(t time.Time) (bool, time.Time) {
	// Next is strictly after its argument: the first opening after
	// t-Duration is the earliest one still open at t, if it is not after t.
	f := w.Schedule.Next(t.Add(-w.Duration))
	if f.IsZero() || f.After(t) {
		return false, time.Time{}
	}
	for i := 0; i < maxSteps; i++ {
		g := w.Schedule.Next(f)
		if g.IsZero() || g.After(t) {
			break
		}
		f = g
	}
	return true, f.Add(w.Duration)
}

// Open reports whether changes may be applied at t: no deny window is open
// and, when there are allow windows, one of them is.
func (ws Windows) Open(t time.Time) bool {
	allowed, hasAllow := false, false
	for _, w := range ws {
		on, _ := w.active(t)
		switch w.Kind {
		case Deny:
			if on {
				return false
			}
		case Allow:
			hasAllow = true
			allowed = allowed || on
		}
	}
	return allowed || !hasAllow
}

// NextOpen returns the first time at or after t at which changes may be
// applied: t itself when Open(t). ok is false when the windows never open
// again (a deny window that never closes, an allow schedule that never
// fires).
func (ws Windows) NextOpen(t time.Time) (at time.Time, ok bool) {
	cur := t
	for i := 0; i < maxSteps; i++ {
		if ws.Open(cur) {
			return cur, true
		}
		// The next time the answer may change to open: an allow window
		// opening, or a deny window that is open closing.
		var next time.Time
		consider := func(c time.Time) {
			if !c.IsZero() && c.After(cur) && (next.IsZero() || c.Before(next)) {
				next = c
			}
		}
		for _, w := range ws {
			switch w.Kind {
			case Allow:
				consider(w.Schedule.Next(cur))
			case Deny:
				if on, end := w.active(cur); on {
					consider(end)
				}
			}
		}
		if next.IsZero() {
			return time.Time{}, false
		}
		cur = next
	}
	return time.Time{}, false
}
