package controller

import (
	"errors"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/ledger"
)

// Results recorded in the ledger and the status.
const (
	ResultSuccess = "success" // the host matches the revision
	ResultNoop    = "noop"    // it already did: nothing was done
	ResultPartial = "partial" // some stacks or services did not converge
	ResultFailed  = "failed"  // nothing converged, or the engine failed
	ResultRefused = "refused" // the revision was refused as a whole
	ResultDrift   = "drift"   // the host drifted from the revision; reported, not repaired
)

// record appends the apply to the ledger and writes the source's status.
// A failure to record is logged: it must not hide the apply's own result.
func (c *Controller) record(started time.Time, out *Outcome, err error) {
	rec := &ledger.Record{Source: c.Source.Name, Started: started, Finished: time.Now()}
	if out != nil && out.Snapshot != nil {
		rec.Revision = out.Snapshot.Revision.String()
		rec.Subject, rec.Author = out.Snapshot.Subject, out.Snapshot.Author
	}
	rec.Result = resultOf(out, err)
	if out != nil {
		rec.Notes = append(rec.Notes, out.Notes...)
	}
	if err != nil {
		rec.Error = err.Error()
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
	}
	if out != nil && out.Result != nil {
		for _, r := range out.Result.Ops {
			or := ledger.OpResult{Op: r.Op.String(), Stack: r.Op.Stack, Service: r.Op.Service, Result: "ok", Duration: r.Duration}
			switch {
			case r.Skipped:
				or.Result, or.Error = "skipped", r.Err.Error()
			case r.Err != nil:
				or.Result, or.Error = "failed", r.Err.Error()
			}
			rec.Ops = append(rec.Ops, or)
		}
	}
	log := c.Log.With(zap.String("revision", rec.Revision), zap.String("result", rec.Result), zap.Duration("took", rec.Duration()))
	if rec.Result == ResultSuccess || rec.Result == ResultNoop {
		c.applied = rec.Revision
	}
	if rec.Result == ResultNoop {
		log.Debug("converged")
	} else if rec.Result == ResultDrift {
		if drift := out.Drift.String(); drift != c.lastDrift {
			log.Warn("drift: the host no longer matches the revision; not repaired (drift: report)", zap.Strings("repair", strings.Split(strings.TrimSpace(drift), "\n")))
			c.lastDrift = drift
		}
	} else if err != nil {
		log.Error("apply", zap.Error(err))
	} else {
		log.Info("apply", zap.Int("ops", len(rec.Ops)))
	}
	// A no-op poll is not an apply: the ledger stays a record of changes
	// and failures, and does not grow every interval. Nor does a run that
	// did nothing and found the same failure as the last one recorded.
	repeat := len(rec.Ops) == 0 && rec.Revision == c.lastRecord.revision && rec.Error == c.lastRecord.err
	c.lastRecord.revision, c.lastRecord.err = rec.Revision, rec.Error
	if rec.Result != ResultDrift {
		c.lastDrift = ""
	}
	// Drift under drift: report is status, log and metric, not an apply.
	if rec.Result != ResultNoop && rec.Result != ResultDrift && !repeat && c.Ledger != nil {
		if lerr := c.Ledger.Append(rec); lerr != nil {
			c.Log.Error("ledger append", zap.Error(lerr))
		}
	}
	if serr := c.writeStatus(out, rec, err); serr != nil {
		c.Log.Error("write status", zap.Error(serr))
	}
}

func resultOf(out *Outcome, err error) string {
	switch {
	case out != nil && out.Drift != nil:
		return ResultDrift
	case errors.Is(err, ErrRefused):
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

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
