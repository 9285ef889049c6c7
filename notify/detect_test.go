package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func commit(n int) Commit {
	sha := fmt.Sprintf("%07d%033d", n, 0)
	return Commit{Revision: "main@sha1:" + sha, Short: sha[:7], Subject: fmt.Sprintf("change %d", n), Author: "Alice"}
}

// step is one run and the events it must fire, rendered "kind services".
type step struct {
	name string
	run  Run
	want string
}

func render(events []Event) string {
	var s []string
	for _, e := range events {
		line := string(e.Kind)
		if len(e.Services) > 0 {
			line += " " + strings.Join(e.Services, ",")
		}
		if len(e.Stacks) > 0 {
			line += " " + strings.Join(e.Stacks, ",")
		}
		s = append(s, line)
	}
	return strings.Join(s, "; ")
}

func walk(t *testing.T, after time.Duration, steps []step) {
	t.Helper()
	var st State
	for i, s := range steps {
		if s.run.At.IsZero() {
			s.run.At = t0.Add(time.Duration(i) * time.Minute)
		}
		s.run.Source = "prod"
		var events []Event
		st, events = Detect(st, s.run, after)
		if got := render(events); got != s.want {
			t.Errorf("step %d (%s): events %q, want %q", i, s.name, got, s.want)
		}
		for _, e := range events {
			if e.Source != "prod" || e.Commit != s.run.Commit || e.Summary == "" {
				t.Errorf("step %d (%s): event %+v lacks its source, commit or summary", i, s.name, e)
			}
		}
	}
}

func TestDetectRolloutLife(t *testing.T) {
	web := "app/web"
	failed := []Problem{{What: "app/web/1", Error: `health check failed: output "boom"`, RolledBack: true}}
	held := map[string]string{web: "failed at main@0000002: retry in 1m"}
	walk(t, 5*time.Minute, []step{
		{"first deploy", Run{Commit: commit(1), Planned: true, Ops: 2}, "applied"},
		{"unchanged poll", Run{Commit: commit(1), Planned: true}, ""},
		{"quiet poll", Run{Commit: commit(1)}, ""},
		{"unhealthy release", Run{Commit: commit(2), Planned: true, Ops: 1, Failed: failed, FailedServices: []string{web}, Err: "rollout failed"}, "failed app/web"},
		{"held poll", Run{Commit: commit(2), Planned: true, Held: held, Err: "held back"}, ""},
		{"held poll again", Run{Commit: commit(2), Planned: true, Held: held, Err: "held back"}, ""},
		{"retried, failed the same", Run{Commit: commit(2), Planned: true, Ops: 1, Failed: failed, FailedServices: []string{web}, Err: "rollout failed"}, ""},
		{"refused revision", Run{Commit: commit(3), Refused: true, Err: "compose.yaml: bad"}, "refused"},
		{"refused again", Run{Commit: commit(3), Refused: true, Err: "compose.yaml: bad"}, ""},
		{"a quiet poll between", Run{Commit: commit(3)}, ""},
		{"refused once more", Run{Commit: commit(3), Refused: true, Err: "compose.yaml: bad"}, ""},
		{"fixed release", Run{Commit: commit(4), Planned: true, Ops: 1}, "applied; recovered app/web"},
		{"unchanged poll", Run{Commit: commit(4), Planned: true}, ""},
		{"a commit that changes nothing", Run{Commit: commit(5), Planned: true}, "applied"},
		{"drift repaired", Run{Commit: commit(5), Planned: true, Ops: 1}, "drift"},
		{"a tag moved in its registry", Run{Commit: commit(5), Planned: true, Ops: 1, ImagesMoved: true}, "applied"},
		{"unchanged poll", Run{Commit: commit(5), Planned: true}, ""},
	})
}

func TestDetectUnreachable(t *testing.T) {
	down := func(min int) Run {
		return Run{Commit: commit(1), Unreachable: true, Err: "repository unreachable", At: t0.Add(time.Duration(min) * time.Minute)}
	}
	up := func(min int) Run {
		return Run{Commit: commit(1), Planned: true, At: t0.Add(time.Duration(min) * time.Minute)}
	}
	walk(t, 5*time.Minute, []step{
		{"converged at start", up(0), ""},
		{"down", down(1), ""},
		{"down 4m", down(5), ""},
		{"down 5m", down(6), "unreachable"},
		{"still down", down(7), ""},
		{"back", up(8), "reachable"},
		{"up", up(9), ""},
		{"a short outage", down(10), ""},
		{"back before the threshold", up(11), ""},
		{"down again", down(12), ""},
		{"down long again: a new outage", down(20), "unreachable"},
	})
}

func TestDetectBrokenStackAndDrift(t *testing.T) {
	broken := map[string]string{"app": "compose.yaml:3: bad"}
	walk(t, time.Minute, []step{
		{"deployed", Run{Commit: commit(1), Planned: true, Ops: 1}, "applied"},
		{"a broken stack", Run{Commit: commit(2), Planned: true, Broken: broken, Err: "stack app refused"}, "refused app"},
		{"the same", Run{Commit: commit(2), Planned: true, Broken: broken, Err: "stack app refused"}, ""},
		{"fixed", Run{Commit: commit(3), Planned: true, Ops: 1}, "applied"},
		{"drift reported", Run{Commit: commit(3), Planned: true, Drift: []string{"start app/web/1 (exited)"}}, "drift"},
		{"the same drift", Run{Commit: commit(3), Planned: true, Drift: []string{"start app/web/1 (exited)"}}, ""},
		{"drift gone", Run{Commit: commit(3), Planned: true}, ""},
	})
}

func TestDetectDegradedAndRecovered(t *testing.T) {
	held := map[string]string{"app/web": "failed"}
	walk(t, time.Minute, []step{
		{"deployed", Run{Commit: commit(1), Planned: true, Ops: 1}, "applied"},
		// A hold the failed event did not report (e.g. the run that
		// failed was before a restart of the controller's notifier).
		{"held", Run{Commit: commit(2), Planned: true, Held: held, Err: "held"}, "degraded app/web"},
		{"held still", Run{Commit: commit(2), Planned: true, Held: held, Err: "held"}, ""},
		{"retried and applied", Run{Commit: commit(2), Planned: true, Ops: 1}, "applied; recovered app/web"},
	})
}

// What moor finds when it starts is not a change: only what its first run
// does is told.
func TestDetectFirstRun(t *testing.T) {
	walk(t, time.Minute, []step{
		{"converged at start", Run{Commit: commit(1), Planned: true, Held: map[string]string{"app/web": "failed"}, Err: "held", Drift: []string{"x"}}, ""},
		{"unchanged", Run{Commit: commit(1), Planned: true, Held: map[string]string{"app/web": "failed"}, Err: "held", Drift: []string{"x"}}, ""},
	})
	walk(t, time.Minute, []step{
		{"nothing to do at start", Run{Commit: commit(1), Planned: true}, ""},
		{"new commit", Run{Commit: commit(2), Planned: true, Ops: 1}, "applied"},
	})
}

// A revision held by a suspension or a closed window is not applied yet:
// it is told when it is.
func TestDetectWaiting(t *testing.T) {
	walk(t, time.Minute, []step{
		{"nothing to do at start", Run{Commit: commit(1), Planned: true}, ""},
		{"new commit, held", Run{Commit: commit(2), Planned: true, Waiting: true}, ""},
		{"still held", Run{Commit: commit(2), Planned: true, Waiting: true}, ""},
		{"window open", Run{Commit: commit(2), Planned: true, Ops: 1}, "applied"},
	})
}

func TestFilters(t *testing.T) {
	tg := Target{Events: []string{"unreachable", "failed"}, Sources: []string{"prod"}}
	for _, c := range []struct {
		e    Event
		want bool
	}{
		{Event{Kind: Failed, Source: "prod"}, true},
		{Event{Kind: Unreachable, Source: "prod"}, true},
		{Event{Kind: Reachable, Source: "prod"}, true},
		{Event{Kind: Applied, Source: "prod"}, false},
		{Event{Kind: Failed, Source: "staging"}, false},
	} {
		if got := tg.wants(c.e); got != c.want {
			t.Errorf("%s of %s: wants %v, want %v", c.e.Kind, c.e.Source, got, c.want)
		}
	}
	if !(&Target{}).wants(Event{Kind: Drift, Source: "x"}) {
		t.Error("a target without filters does not get every event")
	}
}
