package notify

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/reconcile"
)

func snapshot(n int, subject string) *gitsource.Snapshot {
	return &gitsource.Snapshot{Revision: gitsource.Revision{Ref: "main", Commit: fmt.Sprintf("%040d", n)}, Subject: subject, Author: "Alice"}
}

// Literal Outcomes, as the controller's Ran hook gets them, through
// FromOutcome and Detect: which events each fires.
func TestOutcomeEvents(t *testing.T) {
	replace := reconcile.Op{Kind: reconcile.OpReplace, Resource: "app/web/1", Stack: "app", Service: "web"}
	job := reconcile.Op{Kind: reconcile.OpCreate, Resource: "app/migrate/1", Stack: "app", Service: "migrate"}
	jobErr := &reconcile.JobError{Stack: "app", Service: "migrate", ExitCode: 3, Output: "migration 7 failed\nrolled back"}
	rolloutErr := errors.New(`new container is unhealthy; last output: "panic: boom"; old container restored`)
	steps := []struct {
		name string
		out  *controller.Outcome
		err  error
		want string
	}{
		{"first apply", &controller.Outcome{Snapshot: snapshot(1, "first"), Plan: &reconcile.Plan{}, Remaining: &reconcile.Plan{},
			Result: &reconcile.Result{Ops: []reconcile.OpResult{{Op: replace}}}}, nil, "applied"},
		{"a quiet poll", &controller.Outcome{Snapshot: snapshot(1, "first"), Quiet: true}, nil, ""},
		{"an unchanged poll", &controller.Outcome{Snapshot: snapshot(1, "first"), Plan: &reconcile.Plan{}, Remaining: &reconcile.Plan{}}, nil, ""},
		{"a rollout and a job fail", &controller.Outcome{Snapshot: snapshot(2, "second"), Plan: &reconcile.Plan{}, Remaining: &reconcile.Plan{},
			Result: &reconcile.Result{Ops: []reconcile.OpResult{{Op: replace, Err: rolloutErr}, {Op: job, Err: jobErr}}}}, errors.New("2 ops failed"), "failed app/migrate,app/web"},
		{"held after it", &controller.Outcome{Snapshot: snapshot(2, "second"), Plan: &reconcile.Plan{Held: map[string]string{"app/web": "failed"}},
			Remaining: &reconcile.Plan{Held: map[string]string{"app/web": "failed", "app/migrate": "failed"}}}, errors.New("held"), ""},
		{"unreachable", nil, fmt.Errorf("ls-remote: %w", gitsource.ErrUnreachable), ""},
		{"refused", &controller.Outcome{Snapshot: snapshot(3, "third")}, fmt.Errorf("%w: not signed", controller.ErrRefused), "refused"},
		{"fixed", &controller.Outcome{Snapshot: snapshot(4, "fourth"), Plan: &reconcile.Plan{}, Remaining: &reconcile.Plan{},
			Result: &reconcile.Result{Ops: []reconcile.OpResult{{Op: replace}, {Op: job}}}}, nil, "applied; recovered app/migrate,app/web"},
		{"drift reported", &controller.Outcome{Snapshot: snapshot(4, "fourth"), Plan: &reconcile.Plan{Drift: []reconcile.Op{replace}}}, nil, "drift"},
	}
	var st State
	for i, s := range steps {
		r := FromOutcome("prod", s.out, s.err, t0.Add(time.Duration(i)*time.Second))
		var events []Event
		st, events = Detect(st, r, time.Minute)
		if got := render(events); got != s.want {
			t.Errorf("step %d (%s): events %q, want %q", i, s.name, got, s.want)
		}
		if s.name == "a rollout and a job fail" && len(events) == 1 {
			e := events[0]
			if len(e.Problems) != 2 || e.Problems[1].Output != jobErr.Output || e.Problems[1].Error != "job app/migrate exited with code 3" ||
				e.Problems[0].Error != rolloutErr.Error() || e.Commit.Subject != "second" || e.Commit.Short != "0000000" {
				t.Errorf("the failed event: %+v", e)
			}
		}
	}
}
