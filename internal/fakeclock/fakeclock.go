// Package fakeclock is time for tests that must not wait for real: a clock
// that moves forward by exactly what is waited for, at once.
package fakeclock

import (
	"sync"
	"time"
)

// Auto is a clock on which every wait ends at once, moving the clock
// forward by the time waited. Code that polls, monitors a period or sleeps
// between batches then runs through its whole schedule in no real time,
// and the clock says how long it would have taken. It is safe for
// concurrent use; concurrent waits add up.
type Auto struct {
	mu  sync.Mutex
	now time.Time
}

// Epoch is where a new Auto clock starts.
var Epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// NewAuto returns a clock at Epoch.
func NewAuto() *Auto { return &Auto{now: Epoch} }

// Now returns the clock's time.
func (c *Auto) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After moves the clock forward by d and returns a channel that already
// holds the new time.
func (c *Auto) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// Elapsed is how far the clock moved since Epoch.
func (c *Auto) Elapsed() time.Duration { return c.Now().Sub(Epoch) }
