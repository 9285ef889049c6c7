package reconcile

import "time"

// Clock is the time the executor waits on: readiness polls, monitor
// periods, rollout delays and timeouts. Tests give it one that advances
// on its own, so that none of them waits for real.
type Clock interface {
	Now() time.Time
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
