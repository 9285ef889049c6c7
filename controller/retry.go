package controller

import (
	"errors"
	"fmt"
	"sync"
)

// ErrNotHeld is returned by Retry for a service that no failure holds back.
var ErrNotHeld = errors.New("not held back by a failed rollout")

// retryState is embedded in Controller: the held services an operator
// asked to retry, taken by the next run's plan.
type retryState struct {
	retryMu sync.Mutex
	retries map[string]bool
}

// Retry asks for a run that tries the held service ("stack/service")
// again at once, instead of at its retry time: what `moor apply` does for
// every held service, for one. It changes nothing else (drift that the
// source only reports stays reported). A failure counts as one more
// attempt; a new commit retries anyway.
func (c *Controller) Retry(service string) error {
	rep := c.Report()
	if rep == nil || rep.Status == nil {
		return fmt.Errorf("retry %s: %w", service, ErrNotHeld)
	}
	if _, ok := rep.Failures[service]; !ok {
		return fmt.Errorf("retry %s: %w", service, ErrNotHeld)
	}
	c.retryMu.Lock()
	if c.retries == nil {
		c.retries = map[string]bool{}
	}
	c.retries[service] = true
	c.retryMu.Unlock()
	c.Trigger()
	return nil
}

// takeRetries returns the services asked to be retried since the last
// call, and forgets them.
func (c *Controller) takeRetries() map[string]bool {
	c.retryMu.Lock()
	defer c.retryMu.Unlock()
	r := c.retries
	c.retries = nil
	return r
}
