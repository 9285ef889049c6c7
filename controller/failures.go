package controller

import (
	"errors"
	"fmt"
	"time"

	"github.com/moor-dev/moor/reconcile"
)

// Failure is a service whose rollout to a revision failed. Until RetryAt,
// runs at that revision keep the service as it runs instead of trying the
// same failing change again: a bad commit costs one failed rollout per
// backoff period, not one per poll. A new commit or `moor apply` retries at
// once.
type Failure struct {
	Revision string    `json:"revision"`
	Hash     string    `json:"hash"` // the service config that failed
	Reason   string    `json:"reason"`
	Attempts int       `json:"attempts"`
	At       time.Time `json:"at"`
	RetryAt  time.Time `json:"retry_at"`
}

// Retry backoff of a failed rollout: the first retry after failureBackoffMin,
// doubling up to failureBackoffMax.
const (
	failureBackoffMin = time.Minute
	failureBackoffMax = 30 * time.Minute
)

func failureBackoff(attempts int) time.Duration {
	d := failureBackoffMin
	for i := 1; i < attempts && d < failureBackoffMax; i++ {
		d *= 2
	}
	return min(d, failureBackoffMax)
}

// loadStatus reads what the last run recorded, once: the failures and
// the revision the host last matched.
func (c *Controller) loadStatus() {
	if c.failures != nil {
		return
	}
	c.failures = map[string]Failure{}
	if st, err := ReadStatus(c.StateDir, c.Source.Name); err == nil {
		for k, f := range st.Failures {
			c.failures[k] = f
		}
		c.applied = st.Applied
	}
}

// holdFailed blocks the services whose rollout to this same revision failed
// and whose retry is not due. Failures of other revisions or configs are
// forgotten: a new commit gets a fresh try.
func (c *Controller) holdFailed(d *reconcile.Desired, now time.Time) {
	c.loadStatus()
	wanted := map[string]bool{}
	forEachService(d, func(stack string, svc *reconcile.Service) {
		key := stack + "/" + svc.Name
		wanted[key] = true
		f, ok := c.failures[key]
		if !ok {
			return
		}
		if f.Revision != d.Revision || f.Hash != svc.Hash {
			delete(c.failures, key)
			return
		}
		if c.RetryFailed || !now.Before(f.RetryAt) || svc.Err != nil {
			return
		}
		svc.Err = fmt.Errorf("%w: %s failed %s (attempt %d): %s; next attempt after %s, or at once on a new commit or `moor apply`",
			errHeld, shortRev(f.Revision), f.At.UTC().Format(time.RFC3339), f.Attempts, f.Reason, f.RetryAt.UTC().Format(time.RFC3339))
	})
	for key := range c.failures {
		if !wanted[key] {
			delete(c.failures, key)
		}
	}
}

// errHeld marks a service held back by a recent failure.
var errHeld = errors.New("held back")

// noteFailures remembers the services whose container ops failed in this
// run, and forgets those that now match the revision.
func (c *Controller) noteFailures(d *reconcile.Desired, res *reconcile.Result, remaining *reconcile.Plan, now time.Time) {
	c.loadStatus()
	failed := map[string]string{}
	if res != nil {
		for _, r := range res.Ops {
			switch r.Op.Kind {
			case reconcile.OpCreate, reconcile.OpReplace, reconcile.OpStart, reconcile.OpRestore:
			default:
				continue
			}
			key := r.Op.Stack + "/" + r.Op.Service
			if r.Err != nil && !r.Skipped && failed[key] == "" {
				failed[key] = fmt.Sprintf("%s: %v", r.Op.Resource, r.Err)
			}
		}
	}
	// A service still has work to do when the remaining plan has ops for it
	// or blocks it: a held service is blocked, with no ops, and must stay
	// held.
	pending := map[string]bool{}
	if remaining != nil {
		for _, op := range remaining.Ops {
			pending[op.Stack+"/"+op.Service] = true
		}
		for key := range remaining.Blocked {
			pending[key] = true
		}
	}
	forEachService(d, func(stack string, svc *reconcile.Service) {
		key := stack + "/" + svc.Name
		reason, ok := failed[key]
		if !ok {
			if !pending[key] {
				delete(c.failures, key)
			}
			return
		}
		f := c.failures[key]
		if f.Revision != d.Revision || f.Hash != svc.Hash {
			f = Failure{Revision: d.Revision, Hash: svc.Hash}
		}
		f.Attempts++
		f.Reason, f.At, f.RetryAt = reason, now, now.Add(failureBackoff(f.Attempts))
		c.failures[key] = f
	})
}
