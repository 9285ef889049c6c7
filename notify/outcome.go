package notify

import (
	"errors"
	"slices"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/reconcile"
)

// FromOutcome reads what notifications need from one run of source's
// controller (its Ran hook's arguments), finished at at.
func FromOutcome(source string, out *controller.Outcome, err error, at time.Time) Run {
	r := Run{Source: source, At: at}
	if err != nil {
		r.Err = printable.Error(err)
	}
	r.Unreachable = errors.Is(err, gitsource.ErrUnreachable)
	if out == nil {
		return r
	}
	if s := out.Snapshot; s != nil {
		rev := s.Revision.String()
		r.Commit = Commit{Revision: rev, Short: shortCommit(rev), Subject: s.Subject, Author: s.Author}
	}
	r.Refused = errors.Is(err, controller.ErrRefused) && out.Plan == nil
	if out.Quiet || out.Plan == nil {
		return r
	}
	r.Planned = true
	final := out.Plan
	if out.Remaining != nil {
		final = out.Remaining
	}
	r.Held, r.Broken = final.Held, final.Broken
	r.Waiting = len(final.Waiting) > 0
	for _, op := range final.Drift {
		r.Drift = append(r.Drift, op.String())
	}
	if out.Result == nil {
		return r
	}
	r.Ops = len(out.Result.Ops)
	r.ImagesMoved = out.ImageCheck != nil && len(out.ImageCheck.Updated) > 0
	for _, o := range out.Result.Failed() {
		key := reconcile.ServiceKey(o.Op.Stack, o.Op.Service)
		p := Problem{What: o.Op.Resource, Error: printable.Error(o.Err), RolledBack: o.RolledBack}
		if je := (*reconcile.JobError)(nil); errors.As(o.Err, &je) && je.Output != "" {
			bare := *je
			bare.Output = ""
			p.Error, p.Output = printable.Error(&bare), je.Output
		}
		r.Failed = append(r.Failed, p)
		if o.Op.Service != "" && !slices.Contains(r.FailedServices, key) {
			r.FailedServices = append(r.FailedServices, key)
		}
	}
	slices.Sort(r.FailedServices)
	return r
}
