// Package notify tells people when a source's state changes: a revision
// applied, a rollout that failed and was rolled back, a service degraded
// or recovered, a revision refused, the repository unreachable and back,
// drift found. It sends one message per change, never one per poll.
//
// Three parts: the event model (this file); Detect, a pure function of the
// previous state and one run that says which events fire (detect.go); and
// the Notifier, which hands each event to its targets' queues, where one
// goroutine per target sends it, retrying with backoff, without ever
// blocking the run that fired it (notifier.go, senders in shoutrrr.go and
// webhook.go).
package notify

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind is what changed.
type Kind string

// The kinds of event, which are also the names a target's events: filter
// takes.
const (
	Applied     Kind = "applied"     // the host now runs a new revision
	Failed      Kind = "failed"      // a run's ops failed; a failed rollout was rolled back
	Degraded    Kind = "degraded"    // a service is held back, running an older revision
	Recovered   Kind = "recovered"   // a degraded service runs the revision again
	Refused     Kind = "refused"     // a revision or a stack of it was refused: bad file, bad signature
	Unreachable Kind = "unreachable" // the repository could not be reached for the threshold
	Reachable   Kind = "reachable"   // it can be reached again after an unreachable event
	Drift       Kind = "drift"       // the host no longer matched the revision (reported or repaired)
)

// Kinds are every kind, in the order the docs list them.
var Kinds = []Kind{Applied, Failed, Degraded, Recovered, Refused, Unreachable, Reachable, Drift}

// Filter names: a target's events: lists these. "unreachable" also
// subscribes to "reachable", its end.
func (k Kind) matches(filter string) bool {
	return string(k) == filter || k == Reachable && filter == string(Unreachable)
}

// ValidFilter reports whether name may appear in a target's events: list.
func ValidFilter(name string) bool {
	return slices.Contains(Kinds, Kind(name))
}

// Commit is the revision an event is about.
type Commit struct {
	Revision string `json:"revision"` // REF@sha1:SHA
	Short    string `json:"short"`    // the first 7 hex digits
	Subject  string `json:"subject"`
	Author   string `json:"author"`
}

// Problem is one thing that failed: an op, a stack, a service.
type Problem struct {
	// What failed: "web/api/1", a stack or a service key.
	What  string `json:"what"`
	Error string `json:"error"`
	// Output is the last output of the container, job or health check
	// that failed, when the error does not already quote it.
	Output     string `json:"output,omitempty"`
	RolledBack bool   `json:"rolled_back,omitempty"`
}

// Event is one change of one source.
type Event struct {
	Kind   Kind      `json:"kind"`
	Source string    `json:"source"`
	At     time.Time `json:"at"`
	Commit Commit    `json:"commit"`
	// Stacks are the stacks the event is about, when it is about some.
	Stacks []string `json:"stacks,omitempty"`
	// Services are the services (stack/service) it is about.
	Services []string  `json:"services,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
	// Since is when the repository became unreachable (unreachable,
	// reachable).
	Since time.Time `json:"since,omitzero"`
	// Summary is one line saying what happened.
	Summary string `json:"summary"`
}

// Title is the event's one-line heading: a chat message's first line, a
// mail's subject.
func (e Event) Title() string {
	title := fmt.Sprintf("moor %s: %s", e.Source, e.Kind)
	if e.Commit.Short != "" {
		title += " " + e.Commit.Short
	}
	return title
}

// Text is the event as a plain-text message.
func (e Event) Text() string {
	var b strings.Builder
	b.WriteString(e.Summary)
	b.WriteString("\n")
	if e.Commit.Revision != "" {
		fmt.Fprintf(&b, "commit %s %q by %s\n", e.Commit.Short, e.Commit.Subject, e.Commit.Author)
	}
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "- %s: %s\n", p.What, p.Error)
		if p.RolledBack {
			b.WriteString("  rolled back: the previous version runs\n")
		}
		if p.Output != "" {
			fmt.Fprintf(&b, "  last output:\n%s\n", indent(p.Output, "    "))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = by + lines[i]
	}
	return strings.Join(lines, "\n")
}

// shortCommit is the first 7 hex digits of "REF@sha1:SHA".
func shortCommit(rev string) string {
	_, sha, ok := strings.Cut(rev, "@sha1:")
	if !ok {
		return rev
	}
	return sha[:min(7, len(sha))]
}
