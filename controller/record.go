package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/repourl"
)

// Results recorded in the ledger and the status.
const (
	ResultSuccess = "success" // the host matches the revision
	ResultNoop    = "noop"    // it already did: nothing was done
	ResultPartial = "partial" // some stacks or services did not converge
	ResultFailed  = "failed"  // nothing converged, or the engine failed
	ResultRefused = "refused" // the revision was refused as a whole
	ResultDrift   = "drift"   // the host drifted from the revision; reported, not repaired
	ResultWaiting = "waiting" // ops are held by a suspension, a canary or a closed deploy window
)

// record appends the run to the ledger, updates the decisions, writes the
// source's status and report, and counts the run in the metrics. It does
// not log the run's error: whoever handles it does (the loop, the CLI). A
// failure to record is logged, for it must not hide the run's own result.
func (c *Controller) record(started time.Time, out *Outcome, err error) {
	rec := &ledger.Record{Source: c.Source.Name, Started: started, Finished: time.Now()}
	if out != nil && out.Snapshot != nil {
		rec.Revision = out.Snapshot.Revision.String()
		rec.Subject, rec.Author = out.Snapshot.Subject, out.Snapshot.Author
	}
	rec.Result = resultOf(out, err)
	if out != nil {
		rec.Notes = append(rec.Notes, out.Notes...)
		rec.Overrides = out.Overrides
	}
	if err != nil {
		rec.Error = printable.Error(err)
	}
	if out != nil && out.Plan != nil {
		rec.Stacks = out.Plan.Stacks()
		if len(out.Plan.Broken) > 0 {
			rec.Broken = out.Plan.Broken
			for name := range out.Plan.Broken {
				rec.Stacks = appendUnique(rec.Stacks, name)
			}
		}
		for _, img := range out.Pulled {
			rec.Notes = append(rec.Notes, "pulled "+img+" (pull_policy always)")
		}
		rec.Notes = append(rec.Notes, out.Plan.Notes...)
	}
	if out != nil && out.Result != nil {
		for _, r := range out.Result.Ops {
			or := ledger.OpResult{Op: r.Op.String(), Stack: r.Op.Stack, Service: r.Op.Service, Result: "ok", Duration: r.Duration}
			switch {
			case r.Skipped:
				or.Result, or.Error = "skipped", printable.Error(r.Err)
			case r.RolledBack:
				or.Result, or.Error = "rolled-back", printable.Error(r.Err)
			case r.Err != nil:
				or.Result, or.Error = "failed", printable.Error(r.Err)
			}
			if je := (*reconcile.JobError)(nil); errors.As(r.Err, &je) {
				or.Job = &ledger.Job{Name: reconcile.ServiceKey(je.Stack, je.Service), ExitCode: je.ExitCode, Output: je.Output}
			}
			rec.Ops = append(rec.Ops, or)
			for _, w := range r.Warnings {
				rec.Notes = append(rec.Notes, printable.Escape(w))
			}
		}
	}
	if c.WorkDir != "" {
		return
	}
	c.recordImages(rec, out)
	// A no-op poll is not an apply: the ledger stays a record of changes
	// and failures, and does not grow every interval. Nor does a run that
	// did nothing and found the same failure as the last one recorded, nor
	// drift under drift: report (status, log and metric say it).
	repeat := len(rec.Ops) == 0 && rec.Revision == c.lastRecord.revision && rec.Error == c.lastRecord.err
	c.lastRecord.revision, c.lastRecord.err = rec.Revision, rec.Error
	if rec.Result != ResultNoop && rec.Result != ResultDrift && !repeat && c.Ledger != nil {
		if lerr := c.Ledger.Append(rec); lerr != nil {
			c.Log.Error("ledger append", zap.Error(lerr))
		}
	}
	dec := c.decide(rec, err)
	st := c.status(out, rec, err, dec)
	c.Metrics.observe(c.Source.Name, st, fault.Of(err), rec.Duration())
	if serr := c.writeStatus(st); serr != nil {
		c.Log.Error("write status", zap.Error(serr))
	}
	c.updateReport(out, st)
}

// decide updates the decisions kept between runs with the run's result,
// and writes them when they changed.
func (c *Controller) decide(rec *ledger.Record, runErr error) *decisions {
	dec := c.decisions()
	before, _ := json.Marshal(dec)
	switch rec.Result {
	case ResultSuccess, ResultNoop:
		dec.Applied, dec.FailingSince = rec.Revision, time.Time{}
		if rec.Result == ResultSuccess || dec.AppliedAt.IsZero() {
			dec.AppliedAt = rec.Finished
		}
	case ResultDrift, ResultWaiting:
		dec.FailingSince = time.Time{}
	default:
		if dec.FailingSince.IsZero() {
			dec.FailingSince = rec.Finished
		}
	}
	switch {
	case !errors.Is(runErr, gitsource.ErrUnreachable):
		dec.UnreachableSince = time.Time{}
	case dec.UnreachableSince.IsZero():
		dec.UnreachableSince = rec.Started
	}
	if after, _ := json.Marshal(dec); !bytes.Equal(before, after) {
		if err := writeDecisions(c.StateDir, c.Source.Name, dec); err != nil {
			c.Log.Error("write decisions", zap.Error(err))
		}
	}
	return dec
}

// status is what the run leaves for `moor status`.
func (c *Controller) status(out *Outcome, rec *ledger.Record, runErr error, dec *decisions) *Status {
	s := &Status{
		Source: c.Source.Name, Repo: repourl.Redact(c.Source.Repo), Ref: c.Source.Ref, Path: c.Source.Path,
		Revision: rec.Revision, Subject: rec.Subject, LastRun: rec.Finished, LastDriftCheck: c.drift.lastCheck, Result: rec.Result,
		Error: rec.Error, ErrorClass: string(fault.Of(runErr)),
		Applied: dec.Applied, AppliedAt: dec.AppliedAt, FailingSince: dec.FailingSince,
		UnreachableSince: dec.UnreachableSince, Failures: dec.Failures, Warnings: dec.Warnings,
		LastImageCheck: c.LastImageCheck(),
	}
	if prev := c.Report(); rec.Revision == "" && prev != nil {
		s.Revision, s.Subject = prev.Revision, prev.Subject
	}
	p := finalPlan(out)
	if p != nil {
		s.Broken, s.Blocked, s.Held, s.Conflicts = p.Broken, p.Blocked, p.Held, p.Conflicts
		for _, op := range p.Drift {
			s.Drift = append(s.Drift, op.String())
		}
		for _, op := range p.Waiting {
			s.Waiting = append(s.Waiting, op.String()+": "+p.Waits[op.Stack])
		}
		if out.Constraints.Window != "" && len(p.Waiting) > 0 {
			s.Window = out.Constraints.Window
		}
		if len(p.Waiting) > 0 {
			s.Canary = out.Constraints.Canary
		}
	}
	if out != nil {
		s.Suspended = out.Suspended
	} else {
		s.Suspended, _ = c.Suspensions()
	}
	return s
}

// finalPlan is the plan that says where the run left the host: the one
// made after the apply, or the only one.
func finalPlan(out *Outcome) *reconcile.Plan {
	switch {
	case out == nil:
		return nil
	case out.Remaining != nil:
		return out.Remaining
	}
	return out.Plan
}

func (c *Controller) writeStatus(s *Status) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(statusPath(c.StateDir, c.Source.Name), b, false)
}

// updateReport computes the report /status serves until the next run,
// from the engine as the run last saw it.
func (c *Controller) updateReport(out *Outcome, st *Status) {
	r := &SourceReport{Status: st}
	if c.swarmSource() {
		c.swarmReport(r, out)
		return
	}
	if out != nil && out.Observed != nil {
		v := view{desired: c.loaded.desired, dec: c.decisions(), driftReport: c.driftReport(), adoptUnowned: c.identity.AdoptUnowned,
			suspended: out.Constraints.Suspended, window: out.Constraints.Window, canary: out.Constraints.Canary}
		r.Services = v.services(c.Source.Name, out.Observed, time.Now())
		if d := out.Desired; d != nil {
			// Made as the next run makes its plan: the failures
			// this run noted hold their services back.
			r.plan = reconcile.MakePlan(d, out.Observed, c.constraints(d, time.Now()))
		}
	} else if prev := c.Report(); prev != nil {
		r.Services, r.plan = prev.Services, prev.plan // the engine was not seen: what it last showed
	}
	c.mu.Lock()
	c.report = r
	c.mu.Unlock()
}

func resultOf(out *Outcome, err error) string {
	switch {
	case out != nil && out.Plan != nil && len(out.Plan.Drift) > 0 && out.Result == nil:
		return ResultDrift
	case err == nil && finalPlan(out) != nil && len(finalPlan(out).Waiting) > 0:
		return ResultWaiting
	case errors.Is(err, ErrRefused) && (out == nil || out.Plan == nil):
		return ResultRefused
	case out == nil || out.Plan == nil || out.Remaining == nil:
		if err == nil {
			return ResultNoop
		}
		return ResultFailed
	case err == nil && out.Result == nil && len(out.Pulled) == 0:
		return ResultNoop
	case err == nil:
		return ResultSuccess
	}
	// Something did not converge: partial when some of the revision did.
	if out.Result != nil {
		for _, r := range out.Result.Ops {
			if r.Err == nil {
				return ResultPartial
			}
		}
	}
	if len(out.Desired.Stacks) > 0 && out.Result == nil {
		return ResultPartial
	}
	return ResultFailed
}

func (c *Controller) driftReport() bool { return c.Source.Drift == config.DriftReport }
