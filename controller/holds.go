package controller

import (
	"fmt"
	"time"

	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/reconcile"
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

// holds adds the suspensions and a closed window at now to cons, and
// returns what the run goes past (IgnoreSuspend, IgnoreWindows) and, for
// a closed window, when it opens (zero: never, or open).
func (c *Controller) holds(cons *reconcile.Constraints, now time.Time) (overrides []string, opens time.Time, err error) {
	ss, err := c.Suspensions()
	if err != nil {
		// Unreadable suspensions might hold anything: change nothing.
		return nil, time.Time{}, fault.Mark(fault.ErrTransient, fmt.Errorf("read suspensions: %w", err))
	}
	c.Metrics.suspended(c.Source.Name, ss)
	if len(ss) > 0 {
		if c.IgnoreSuspend {
			overrides = append(overrides, OverrideSuspension)
		} else {
			cons.Suspended = suspendedReasons(ss)
		}
	}
	ws, err := c.Source.DeployWindows()
	if err != nil {
		return nil, time.Time{}, fault.Mark(fault.ErrRefused, err)
	}
	open := ws.Open(now)
	c.Metrics.window(c.Source.Name, len(ws) > 0, open)
	if open {
		return overrides, time.Time{}, nil
	}
	if c.IgnoreWindows {
		return append(overrides, OverrideWindows), time.Time{}, nil
	}
	opens, ok := ws.NextOpen(now)
	if ok {
		cons.Window = fmt.Sprintf("waiting for window (opens at %s)", opens.UTC().Format(time.RFC3339))
	} else {
		cons.Window = "waiting for window (never opens: a deny window covers all time)"
	}
	return overrides, opens, nil
}

// windowOpen records in the metric whether the source's windows allow
// changes at now.
func (c *Controller) windowOpen(now time.Time) {
	if ws, err := c.Source.DeployWindows(); err == nil {
		c.Metrics.window(c.Source.Name, len(ws) > 0, ws.Open(now))
	}
}
