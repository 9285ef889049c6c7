package controller

import (
	"fmt"
	"time"

	"github.com/moor-dev/moor/fault"
)

// Holds are what stops a run from changing the host although its plan has
// ops: suspensions (suspend.go) and the source's deploy windows
// (config.Source.Windows, package window). Both are read at the start of
// every run's plan, so they count at the next trigger, and both become
// planner constraints: the ops they hold are planned and shown
// (Plan.Waiting), never applied.

// Overrides an operator's apply records in the ledger.
const (
	OverrideWindows    = "windows"
	OverrideSuspension = "suspension"
)

// now is the controller's time: the loop's clock while it runs, so that
// windows open and close on a fake clock in tests.
func (c *Controller) now() time.Time {
	if c.timeNow != nil {
		return c.timeNow()
	}
	return time.Now()
}

// holds adds the suspensions and a closed window at now to out's
// constraints, notes in out the suspensions and what the run goes past
// (IgnoreSuspend, IgnoreWindows), and returns, for a closed window, when it
// opens (zero: never, or open).
func (c *Controller) holds(out *Outcome, now time.Time) (opens time.Time, err error) {
	cons := &out.Constraints
	ss, err := c.Suspensions()
	if err != nil {
		// Unreadable suspensions might hold anything: change nothing.
		return time.Time{}, fault.Mark(fault.ErrTransient, fmt.Errorf("read suspensions: %w", err))
	}
	out.Suspended = ss
	c.Metrics.suspended(c.Source.Name, ss)
	if len(ss) > 0 {
		if c.IgnoreSuspend {
			out.Overrides = append(out.Overrides, OverrideSuspension)
		} else {
			cons.Suspended = suspendedReasons(ss)
		}
	}
	ws, err := c.Source.DeployWindows()
	if err != nil {
		return time.Time{}, fault.Mark(fault.ErrRefused, err)
	}
	open := ws.Open(now)
	c.Metrics.window(c.Source.Name, len(ws) > 0, open)
	switch {
	case open:
		return time.Time{}, nil
	case c.IgnoreWindows:
		out.Overrides = append(out.Overrides, OverrideWindows)
		return time.Time{}, nil
	}
	opens, ok := ws.NextOpen(now)
	if !ok {
		cons.Window = "waiting for window (never opens: a deny window covers all time)"
		return time.Time{}, nil
	}
	cons.Window = fmt.Sprintf("waiting for window (opens at %s)", opens.UTC().Format(time.RFC3339))
	return opens, nil
}

// windowOpen records in the metric whether the source's windows allow
// changes at now.
func (c *Controller) windowOpen(now time.Time) {
	if ws, err := c.Source.DeployWindows(); err == nil {
		c.Metrics.window(c.Source.Name, len(ws) > 0, ws.Open(now))
	}
}
