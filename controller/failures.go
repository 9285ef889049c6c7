package controller

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/reconcile"
)

// Failure is a service whose rollout to a revision failed. Until RetryAt,
// runs at that revision keep the service as it runs instead of trying the
// same failing change again: a bad commit costs one failed rollout per
// backoff period, not one per poll. A new commit or `moor apply` retries at
// once.
type Failure struct {
	Revision string `json:"revision"`
	Hash     string `json:"hash"` // the service config that failed
	Reason   string `json:"reason"`
	// Image and Digest are the tag and the digest of a failed image
	// update: it is held until the registry names the tag by another
	// digest (or a new commit, or `moor apply`), not retried on a timer.
	Image    string    `json:"image,omitempty"`
	Digest   string    `json:"digest,omitempty"`
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

// decisions returns the source's decisions, read from the state dir once.
// Decisions that cannot be read are started afresh: a held failure is
// then tried once more, which is safe.
func (c *Controller) decisions() *decisions {
	if c.dec == nil {
		d, err := readDecisions(c.StateDir, c.Source.Name)
		if err != nil {
			c.Log.Warn("decisions unreadable; starting afresh", zap.Error(err))
		}
		c.dec = d
	}
	return c.dec
}

// constraints are what the controller's records add to a plan of d: the
// services held back by a recent failure of this very revision and
// config, and whether drift is only to be reported. Failures of other
// revisions or configs are forgotten: a new commit gets a fresh try.
func (c *Controller) constraints(d *reconcile.Desired, now time.Time) reconcile.Constraints {
	cons := reconcile.Constraints{Explicit: c.Explicit, AdoptUnowned: c.identity.AdoptUnowned, Adopt: c.Source.Adopt}
	if c.WorkDir != "" {
		return cons
	}
	dec := c.decisions()
	cons.Adopted = adoptedIDs(dec)
	for key, f := range dec.Failures {
		if svc := d.Service(key); svc == nil || f.Revision != d.Revision || f.Hash != svc.Hash {
			delete(dec.Failures, key)
		}
	}
	cons.Held = activeHolds(dec.Failures, d, now)
	for key := range c.takeRetries() { // an operator's Retry
		delete(cons.Held, key)
	}
	cons.StackNeeds = dec.Needs
	cons.RanBefore = map[string]bool{}
	for stack := range dec.Ran {
		cons.RanBefore[stack] = true
	}
	cons.ReportDrift = c.Source.Drift == config.DriftReport && dec.Applied == d.Revision
	return cons
}

// RetryHeld has the next run retry at once the services it would hold back
// after a failed rollout (those of the report's Plan), as `moor apply`
// does (Explicit: that run also repairs drift the source only reports),
// and triggers it. It returns them, by "stack/service"; with none, it
// does nothing.
func (c *Controller) RetryHeld() []string {
	rep := c.Report()
	if rep == nil || rep.plan == nil || len(rep.plan.Held) == 0 {
		return nil
	}
	c.retry.Store(true)
	c.Trigger()
	return slices.Sorted(maps.Keys(rep.plan.Held))
}

// heldReason is how a held service is explained in plans, status and logs.
func heldReason(f Failure) string {
	if f.Digest != "" {
		return fmt.Sprintf("the update of %s to %s failed: %s (at %s; held until the tag moves again, a new commit or `moor apply`)",
			f.Image, reconcile.ShortDigest(f.Digest), f.Reason, f.At.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s failed: %s (attempt %d at %s; next attempt after %s, or at once on a new commit or `moor apply`)",
		shortRev(f.Revision), f.Reason, f.Attempts, f.At.UTC().Format(time.RFC3339), f.RetryAt.UTC().Format(time.RFC3339))
}

// noteFailures remembers the services whose container ops or image build
// failed in this run, and forgets those that now match the revision.
func (c *Controller) noteFailures(d *reconcile.Desired, res *reconcile.Result, remaining *reconcile.Plan, now time.Time) {
	dec := c.decisions()
	failed := map[string]string{}
	if res != nil {
		for _, r := range res.Ops {
			if r.Op.Kind == reconcile.OpBuild && r.Err != nil && !r.Skipped {
				// A failed build holds every service that runs its image,
				// as a failed rollout does: the same broken build is not
				// tried again on every poll.
				d.EachService(func(stack string, svc *reconcile.Service) {
					key := reconcile.ServiceKey(stack, svc.Name)
					if svc.Build != nil && svc.Spec.Image == r.Op.Image && failed[key] == "" {
						failed[key] = printable.Error(r.Err) // it names the build
					}
				})
				continue
			}
			switch r.Op.Kind {
			case reconcile.OpCreate, reconcile.OpReplace, reconcile.OpStart, reconcile.OpRestart, reconcile.OpRestore, reconcile.OpRunJob,
				reconcile.OpCreateService, reconcile.OpUpdateService:
			default:
				continue
			}
			key := reconcile.ServiceKey(r.Op.Stack, r.Op.Service)
			var job *reconcile.JobError
			switch {
			case r.Err == nil || failed[key] != "":
			case errors.As(r.Err, &job):
				// A job that failed holds its dependents, whose ops were
				// skipped for it, as a failed rollout holds its service:
				// the revision failed for them too, and says why.
				failed[key] = printable.Error(job)
			case !r.Skipped:
				failed[key] = fmt.Sprintf("%s: %s", r.Op.Resource, printable.Error(r.Err))
			}
		}
	}
	// A service still has work to do when the remaining plan has ops for
	// it or holds it back.
	pending := map[string]bool{}
	for key := range remaining.ServiceOps() {
		pending[key] = true
	}
	for key := range remaining.Held {
		pending[key] = true
	}
	for _, op := range remaining.Waiting { // held by a suspension or a window
		if op.Kind.ContainerOp() {
			pending[reconcile.ServiceKey(op.Stack, op.Service)] = true
		}
	}
	if dec.Failures == nil {
		dec.Failures = map[string]Failure{}
	}
	d.EachService(func(stack string, svc *reconcile.Service) {
		key := reconcile.ServiceKey(stack, svc.Name)
		reason, ok := failed[key]
		if !ok {
			if !pending[key] {
				delete(dec.Failures, key)
			}
			return
		}
		f := dec.Failures[key]
		if f.Revision != d.Revision || f.Hash != svc.Hash {
			f = Failure{Revision: d.Revision, Hash: svc.Hash}
		}
		f.Attempts++
		f.Reason, f.At, f.RetryAt = reason, now, now.Add(failureBackoff(f.Attempts))
		dec.Failures[key] = f
	})
}

// noteRan remembers the stacks of d the host now matches, and the warnings
// of the ops that ran.
func (c *Controller) noteRan(d *reconcile.Desired, res *reconcile.Result, remaining *reconcile.Plan, now time.Time) {
	dec := c.decisions()
	pending := map[string]bool{}
	for _, op := range append(slices.Clone(remaining.Ops), remaining.Waiting...) {
		pending[op.Stack] = true
	}
	for key := range remaining.Held {
		stack, _, _ := strings.Cut(key, "/")
		pending[stack] = true
	}
	for name := range d.Stacks {
		if _, ok := dec.Ran[name]; !ok && !pending[name] && remaining.Conflicts[name] == "" {
			if dec.Ran == nil {
				dec.Ran = map[string]time.Time{}
			}
			dec.Ran[name] = now
		}
	}
	if res == nil {
		return
	}
	for _, r := range res.Ops {
		for _, w := range opWarnings(r) {
			dec.Warnings = append([]Warning{{At: now, Revision: d.Revision, Message: w}}, dec.Warnings...)
		}
	}
	if len(dec.Warnings) > maxWarnings {
		dec.Warnings = dec.Warnings[:maxWarnings]
	}
}

func adoptedIDs(dec *decisions) map[string]bool {
	ids := map[string]bool{}
	for id := range dec.Adopted {
		ids[id] = true
	}
	return ids
}

// noteAdopted remembers the containers this run took over, and forgets
// those the engine no longer has.
func (c *Controller) noteAdopted(res *reconcile.Result, obs *reconcile.Observed) {
	dec := c.decisions()
	if res != nil {
		for _, r := range res.Ops {
			if r.Op.Kind == reconcile.OpAdopt && r.Err == nil {
				if dec.Adopted == nil {
					dec.Adopted = map[string]string{}
				}
				dec.Adopted[r.Op.Container.ID] = reconcile.ServiceKey(r.Op.Stack, r.Op.Service)
			}
		}
	}
	present := map[string]bool{}
	for _, ct := range obs.Compose {
		present[ct.ID] = true
	}
	for id := range dec.Adopted {
		if !present[id] {
			delete(dec.Adopted, id)
		}
	}
}

// noteNeeds remembers what each stack of d needs, for the order of its
// removal once it is gone from git; a stack gone from git is forgotten
// once the host holds nothing of it.
func (c *Controller) noteNeeds(d *reconcile.Desired, remaining *reconcile.Plan) {
	dec := c.decisions()
	pending := map[string]bool{}
	for _, op := range slices.Concat(remaining.Ops, remaining.Drift, remaining.Waiting) {
		pending[op.Stack] = true
	}
	for name := range dec.Needs {
		_, wanted := d.Stacks[name]
		_, broken := d.Broken[name]
		if !wanted && !broken && !pending[name] {
			delete(dec.Needs, name)
		}
	}
	for name, st := range d.Stacks {
		switch {
		case len(st.DependsOn) > 0:
			if dec.Needs == nil {
				dec.Needs = map[string][]string{}
			}
			dec.Needs[name] = st.DependsOn
		default:
			delete(dec.Needs, name)
		}
	}
}
