package notify

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Run is what one run of a source found and did, as far as notifications
// care: FromOutcome reads it from the controller's Outcome.
type Run struct {
	Source string
	At     time.Time
	Commit Commit
	// Planned: the run made a plan, so Held, Broken and Drift say where
	// the host stands. A quiet poll, a refused or unreachable run did not.
	Planned bool
	// Ops is how many ops ran; Failed are those that failed.
	Ops    int
	Failed []Problem
	// FailedServices are the services (stack/service) Failed are about.
	FailedServices []string
	// Err is the run's error, "" for none.
	Err         string
	Refused     bool
	Unreachable bool
	// Held are the services held back after a failure, with why.
	Held map[string]string
	// Broken are the stacks that did not load, with why.
	Broken map[string]string
	// Drift are the ops drift: report leaves undone.
	Drift []string
	// ImagesMoved: the run rolled out tags that moved in their registry
	// (image_updates), not a commit's change.
	ImagesMoved bool
	// Waiting: ops of the run are held by a suspension or a closed deploy
	// window, so the revision is not applied yet.
	Waiting bool
}

// State is what detection remembers of a source between runs. The zero
// State is a source not seen yet: its first run reports what it does
// (an apply, a failure, a refusal), not what it finds (a service degraded
// or drift from before moor started).
type State struct {
	Seen bool
	// Applied is the last revision the host matched.
	Applied string
	// Failed is the last failure reported: revision and what failed.
	Failed string
	// Refused is the last refusal reported.
	Refused string
	// Degraded are the services reported degraded or failed.
	Degraded map[string]bool
	// Broken are the stacks reported refused, with why.
	Broken map[string]string
	// Drift is the drift last reported.
	Drift string
	// UnreachableSince is when the repository stopped answering; zero
	// while it answers. UnreachableSent: an unreachable event was sent.
	UnreachableSince time.Time
	UnreachableSent  bool
}

// Detect says which events run r fires after a run that left prev, and
// the state it leaves. unreachableAfter is how long the repository must
// stay unreachable before it is reported. It is pure: no clock, no I/O.
func Detect(prev State, r Run, unreachableAfter time.Duration) (State, []Event) {
	next := prev
	next.Seen = true
	next.Degraded = maps.Clone(prev.Degraded)
	next.Broken = maps.Clone(prev.Broken)
	var events []Event
	fire := func(k Kind, summary string, e Event) {
		e.Kind, e.Source, e.At, e.Commit, e.Summary = k, r.Source, r.At, r.Commit, summary
		events = append(events, e)
	}

	// Reachability first: it is about the source, not a revision.
	switch {
	case r.Unreachable:
		if next.UnreachableSince.IsZero() {
			next.UnreachableSince = r.At
		}
		if !next.UnreachableSent && r.At.Sub(next.UnreachableSince) >= unreachableAfter {
			next.UnreachableSent = true
			fire(Unreachable, fmt.Sprintf("the repository has not answered since %s: nothing on the host was touched", next.UnreachableSince.UTC().Format(time.RFC3339)),
				Event{Since: next.UnreachableSince, Problems: []Problem{{What: "repository", Error: r.Err}}})
		}
		return next, events
	case !next.UnreachableSince.IsZero():
		if next.UnreachableSent {
			fire(Reachable, fmt.Sprintf("the repository answers again (unreachable since %s)", next.UnreachableSince.UTC().Format(time.RFC3339)),
				Event{Since: next.UnreachableSince})
		}
		next.UnreachableSince, next.UnreachableSent = time.Time{}, false
	}

	if r.Refused {
		if key := r.Commit.Revision + "\n" + r.Err; key != prev.Refused {
			next.Refused = key
			fire(Refused, "revision refused: nothing on the host changed", Event{Problems: []Problem{{What: "revision", Error: r.Err}}})
		}
		return next, events
	}
	if r.Planned {
		next.Refused = "" // the revision loaded: a refusal of it again is news
		// Stacks that did not load, each reported once per reason.
		var stacks []string
		var problems []Problem
		for _, name := range slices.Sorted(maps.Keys(r.Broken)) {
			if prev.Broken[name] != r.Broken[name] {
				stacks = append(stacks, name)
				problems = append(problems, Problem{What: "stack " + name, Error: r.Broken[name]})
			}
		}
		next.Broken = maps.Clone(r.Broken)
		if len(stacks) > 0 {
			fire(Refused, fmt.Sprintf("stack %s refused: left running as it was", strings.Join(stacks, ", ")), Event{Stacks: stacks, Problems: problems})
		}
	}

	if len(r.Failed) > 0 {
		key := r.Commit.Revision + "\n" + strings.Join(r.FailedServices, "\n")
		if key != prev.Failed {
			next.Failed = key
			fire(Failed, failedSummary(r), Event{Services: r.FailedServices, Problems: r.Failed})
		}
	}
	if next.Degraded == nil {
		next.Degraded = map[string]bool{}
	}
	for _, key := range r.FailedServices {
		next.Degraded[key] = true // the failed event said so
	}

	if !r.Planned {
		return next, events
	}
	// Held services the failed event did not report.
	var degraded []string
	var why []Problem
	for _, key := range slices.Sorted(maps.Keys(r.Held)) {
		if !next.Degraded[key] {
			next.Degraded[key] = true
			if prev.Seen {
				degraded = append(degraded, key)
				why = append(why, Problem{What: key, Error: r.Held[key]})
			}
		}
	}
	if len(degraded) > 0 {
		fire(Degraded, fmt.Sprintf("%s held back, running an older revision", strings.Join(degraded, ", ")), Event{Services: degraded, Problems: why})
	}
	var recovered []string
	for _, key := range slices.Sorted(maps.Keys(next.Degraded)) {
		if _, held := r.Held[key]; !held && !slices.Contains(r.FailedServices, key) && r.Err == "" {
			delete(next.Degraded, key)
			recovered = append(recovered, key)
		}
	}

	if r.Err == "" && len(r.Failed) == 0 && !r.Waiting {
		next.Failed = ""
		switch {
		case r.Commit.Revision != prev.Applied && (prev.Seen || r.Ops > 0):
			fire(Applied, fmt.Sprintf("%s applied (%d ops)", r.Commit.Short, r.Ops), Event{})
		case r.Ops > 0 && r.ImagesMoved:
			fire(Applied, fmt.Sprintf("%s applied again: tags moved in their registry (%d ops)", r.Commit.Short, r.Ops), Event{})
		case r.Ops > 0 && prev.Seen && len(recovered) == 0:
			fire(Drift, fmt.Sprintf("the host had drifted from %s: repaired (%d ops)", r.Commit.Short, r.Ops), Event{})
		}
		if len(r.Drift) == 0 {
			next.Applied = r.Commit.Revision
		}
	}
	if len(recovered) > 0 {
		fire(Recovered, fmt.Sprintf("%s recovered: running %s", strings.Join(recovered, ", "), r.Commit.Short), Event{Services: recovered})
	}
	drift := strings.Join(r.Drift, "\n")
	if drift != prev.Drift && drift != "" && prev.Seen {
		var ops []Problem
		for _, op := range r.Drift {
			ops = append(ops, Problem{What: "drift", Error: op})
		}
		fire(Drift, fmt.Sprintf("the host drifted from %s: not repaired (drift: report)", r.Commit.Short), Event{Problems: ops})
	}
	next.Drift = drift
	return next, events
}

func failedSummary(r Run) string {
	rolledBack := false
	for _, p := range r.Failed {
		rolledBack = rolledBack || p.RolledBack
	}
	s := fmt.Sprintf("%s failed", r.Commit.Short)
	if len(r.FailedServices) > 0 {
		s += " for " + strings.Join(r.FailedServices, ", ")
	}
	if rolledBack {
		s += "; rolled back, the previous version runs"
	}
	return s
}
