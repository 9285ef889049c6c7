package controller

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/repourl"
)

// The deploy states of a revision that Controller.Deploy hears of.
const (
	DeployPending = "pending" // an apply is rolling the revision out
	DeploySuccess = "success" // the host matches the revision
	DeployFailure = "failure" // the revision was refused, or did not converge
)

// DeployEvent is the deploy state of one revision on this host, as a run
// found it: what a commit status in the forge shows.
type DeployEvent struct {
	Revision gitsource.Revision
	State    string // DeployPending, DeploySuccess or DeployFailure
	// Description says what happened, in one line: the services rolling
	// out, what was deployed, or why it failed. Output that containers
	// and health checks printed is withheld, and URLs are redacted.
	Description string
}

// deployStarted tells Deploy that an apply starts rolling out services to
// a revision the host did not match when it was last applied: the repair
// of a deployed revision is no rollout of it, nor is an apply that only
// writes a stack's files back (after a rollout that failed).
func (c *Controller) deployStarted(out *Outcome, rl *Rolling) {
	if c.Deploy == nil || c.WorkDir != "" || out.Snapshot == nil || len(rl.Services) == 0 ||
		c.decisions().Applied == rl.Revision {
		return
	}
	services := slices.Sorted(slices.Values(rl.Services))
	desc := "rolling out " + strings.Join(services, ", ")
	c.Deploy(DeployEvent{Revision: out.Snapshot.Revision, State: DeployPending, Description: desc})
}

// deployEnded tells Deploy what a run found of its revision. A run that
// says nothing of the revision (a quiet poll, an engine or repository that
// did not answer, drift only reported) tells nothing.
func (c *Controller) deployEnded(out *Outcome, err error) {
	if c.Deploy == nil || c.WorkDir != "" {
		return
	}
	if ev, ok := deployVerdict(out, err); ok {
		c.Deploy(ev)
	}
}

func deployVerdict(out *Outcome, err error) (DeployEvent, bool) {
	if out == nil || out.Snapshot == nil || out.Quiet {
		return DeployEvent{}, false
	}
	ev := DeployEvent{Revision: out.Snapshot.Revision}
	result := resultOf(out, err)
	switch class := fault.Of(err); {
	case result == ResultDrift:
		return ev, false
	case result == ResultWaiting:
		// Held by a suspension or a closed window: not deployed yet.
		ev.State, ev.Description = DeployPending, "waiting: "+waitingWhy(out)
		return ev, true
	case err == nil:
		ev.State, ev.Description = DeploySuccess, deployedSummary(out.Desired)
		return ev, true
	case class == fault.EngineUnavailable, class == fault.SourceUnreachable,
		class == fault.Transient && out.Plan == nil:
		return ev, false // nothing was learnt of the revision
	}
	what := "failed"
	switch {
	case rolledBack(out.Result):
		what = "rolled back"
	case fault.Of(err) == fault.Refused:
		what = "refused"
	case result == ResultPartial:
		what = "partly deployed"
	}
	if op := firstContainerFailure(out.Result); op != nil {
		// What the forge can show is short: the container that failed
		// says most (a rollback of files follows from it).
		err = fmt.Errorf("%s %s: %w", op.Op.Kind, op.Op.Resource, op.Err)
	}
	msg := reconcile.WithholdOutput(repourl.RedactText(printable.Error(err)))
	ev.State, ev.Description = DeployFailure, what+": "+msg
	return ev, true
}

// firstContainerFailure is the first container op that failed on its
// own (not skipped), or nil.
func firstContainerFailure(r *reconcile.Result) *reconcile.OpResult {
	if r == nil {
		return nil
	}
	for i, o := range r.Ops {
		if o.Err != nil && !o.Skipped && o.Op.Kind.ContainerOp() {
			return &r.Ops[i]
		}
	}
	return nil
}

func rolledBack(r *reconcile.Result) bool {
	return r != nil && slices.ContainsFunc(r.Ops, func(o reconcile.OpResult) bool { return o.RolledBack })
}

// deployedSummary says what the host runs of d.
func deployedSummary(d *reconcile.Desired) string {
	if d == nil {
		return "deployed"
	}
	services := 0
	d.EachService(func(string, *reconcile.Service) { services++ })
	return fmt.Sprintf("deployed: %d %s in %d %s", services, plural(services, "service"), len(d.Stacks), plural(len(d.Stacks), "stack"))
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// waitingWhy says what holds a run's ops: the reasons of its stacks, once
// each, sorted.
func waitingWhy(out *Outcome) string {
	p := finalPlan(out)
	if p == nil {
		return "held"
	}
	var why []string
	for _, w := range p.Waits {
		if !slices.Contains(why, w) {
			why = append(why, w)
		}
	}
	slices.Sort(why)
	if len(why) == 0 {
		return "held"
	}
	return strings.Join(why, "; ")
}
