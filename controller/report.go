package controller

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/repourl"
)

// SourceReport is `moor status` for one source: what it last resolved and
// applied, and every service it wants or runs, in the state the planner
// finds it in.
type SourceReport struct {
	*Status
	// Rolling is the apply under way, if any.
	Rolling  *Rolling        `json:"rolling,omitempty"`
	Services []ServiceReport `json:"service_states"`
	// Problems are the source's state files that could not be read, and
	// what the report lacks for it; the rest of the report is what could.
	Problems []string `json:"problems,omitempty"`
	// plan is Plan's.
	plan *reconcile.Plan
}

// Plan is the plan the source's next run would make from the engine as its
// last run saw it, with the failures that run noted (the HTTP API serves
// it); nil before a run saw the engine, and in a report read from the
// state dir.
func (r *SourceReport) Plan() *reconcile.Plan { return r.plan }

// Service states.
const (
	StateInSync     = "in-sync"          // nothing to do
	StateRollingOut = "rolling-out"      // an apply is changing it now
	StateDegraded   = "degraded"         // its rollout failed; the old version runs, held back
	StateBlocked    = "blocked"          // its image cannot be had
	StateBroken     = "broken"           // its stack did not load
	StateConflict   = "conflict"         // its stack holds containers of another moor instance or source
	StateMissing    = "missing"          // replicas to create
	StateDrifted    = "drifted"          // containers to replace, start or remove
	StateRemoved    = "removed-from-git" // containers of a service git no longer has
	StateSuspended  = "suspended"        // its ops wait for moor resume
	StateWaiting    = "waiting"          // its ops wait for the deploy window to open, or for its canary hosts
	StateUnknown    = "unknown"          // no desired state recorded yet
)

// ServiceReport is one service: what the revision wants and what runs.
type ServiceReport struct {
	Stack      string            `json:"stack"`
	Service    string            `json:"service"`
	Replicas   int               `json:"replicas"` // desired; 0 when git no longer has it
	State      string            `json:"state"`
	Reason     string            `json:"reason,omitempty"`
	Up         int               `json:"up"` // replicas running, or jobs completed
	Containers []ContainerReport `json:"containers"`
}

// ContainerReport is one container of a service.
type ContainerReport struct {
	Name     string `json:"name"`
	ID       string `json:"id"`
	State    string `json:"state"`
	Health   string `json:"health,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
	Revision string `json:"revision"`
	Image    string `json:"image"`
	InSync   bool   `json:"in_sync"`
}

// view is what a report of one source is made from: its desired state, its
// decisions, whether its drift is only reported, and an apply under way.
type view struct {
	desired      *reconcile.Desired
	dec          *decisions
	driftReport  bool
	adoptUnowned bool
	rolling      *Rolling
	// suspended and window hold ops as the controller's run does
	// (Constraints.Suspended, Constraints.Window).
	suspended map[string]string
	window    string
	// canary holds stacks as the run did (Constraints.Canary).
	canary map[string]string
}

// services assesses every service of the source against obs as the
// controller's own run would: with the same planner and constraints, and
// the state of each service is what the plan would do about it.
func (v view) services(source string, obs *reconcile.Observed, now time.Time) []ServiceReport {
	byKey := map[string]*ServiceReport{}
	get := func(stack, service string) *ServiceReport {
		k := reconcile.ServiceKey(stack, service)
		if byKey[k] == nil {
			byKey[k] = &ServiceReport{Stack: stack, Service: service}
		}
		return byKey[k]
	}
	d := v.desired
	var p *reconcile.Plan
	if d != nil {
		d.EachService(func(stack string, svc *reconcile.Service) { get(stack, svc.Name).Replicas = svc.Replicas })
		cons := reconcile.Constraints{Held: activeHolds(v.dec.Failures, d, now),
			ReportDrift: v.driftReport && v.dec.Applied == d.Revision, AdoptUnowned: v.adoptUnowned,
			Adopted: adoptedIDs(v.dec), Suspended: v.suspended, Window: v.window, Canary: v.canary}
		p = reconcile.MakePlan(d, obs, cons)
	}
	containers := slices.Clone(obs.Containers)
	for _, c := range obs.Compose {
		if _, ok := v.dec.Adopted[c.ID]; ok { // docker compose made it, this instance took it over
			c.Stack, c.Service, c.Source = c.Project, c.ComposeService, source
			containers = append(containers, c)
		}
	}
	for _, c := range containers {
		if c.Source != source || c.Stack == "" || d != nil && c.Owner != "" && c.Owner != d.Owner {
			continue
		}
		sr := get(c.Stack, c.Service)
		var svc *reconcile.Service
		if d != nil {
			svc = d.Service(reconcile.ServiceKey(c.Stack, c.Service))
		}
		sr.Containers = append(sr.Containers, ContainerReport{
			Name: c.Name, ID: reconcile.ShortID(c.ID), State: c.State, Health: c.Health, ExitCode: c.ExitCode,
			Revision: c.Revision, Image: c.Image,
			InSync: svc != nil && (svc.Hash == c.ConfigHash || c.ConfigHash == "" && svc.Compose.Hash == c.ComposeHash),
		})
		if c.Running() || svc != nil && svc.OneShot() && c.State == reconcile.StateExited && c.ExitCode == 0 {
			sr.Up++
		}
	}
	var ops, waiting map[string][]reconcile.Op
	if p != nil {
		ops = p.ServiceOps()
		waiting = map[string][]reconcile.Op{}
		for _, op := range p.Waiting {
			if op.Kind.ContainerOp() {
				key := reconcile.ServiceKey(op.Stack, op.Service)
				waiting[key] = append(waiting[key], op)
			}
		}
	}
	var out []ServiceReport
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		sr := byKey[k]
		slices.SortFunc(sr.Containers, func(a, b ContainerReport) int { return strings.Compare(a.Name, b.Name) })
		sr.State, sr.Reason = v.state(sr, p, ops[k])
		if w := waiting[k]; len(w) > 0 && sr.State == StateInSync {
			sr.State, sr.Reason = v.waitState(sr, p, w)
		}
		out = append(out, *sr)
	}
	return out
}

// state is what the plan p would do about one service.
func (v view) state(sr *ServiceReport, p *reconcile.Plan, ops []reconcile.Op) (string, string) {
	key := reconcile.ServiceKey(sr.Stack, sr.Service)
	switch {
	case p == nil:
		return StateUnknown, "no desired state recorded yet"
	case p.Broken[sr.Stack] != "":
		return StateBroken, p.Broken[sr.Stack]
	case p.Conflicts[sr.Stack] != "":
		return StateConflict, p.Conflicts[sr.Stack]
	case v.rolling != nil && slices.Contains(v.rolling.Services, key):
		return StateRollingOut, fmt.Sprintf("to %s since %s", shortRev(v.rolling.Revision), v.rolling.Started.UTC().Format(time.RFC3339))
	case p.Held[key] != "":
		return StateDegraded, fmt.Sprintf("running %s, %s", runningRevisions(sr), p.Held[key])
	case p.Blocked[key] != "":
		return StateBlocked, p.Blocked[key]
	case v.desired.Service(key) == nil:
		return StateRemoved, ""
	case len(ops) == 0:
		return StateInSync, ""
	}
	state := StateDrifted
	var what []string
	for _, op := range ops {
		if op.Kind == reconcile.OpCreate {
			state = StateMissing
		}
		what = append(what, fmt.Sprintf("%s %s (%s)", op.Kind, op.Resource, op.Cause))
	}
	reason := strings.Join(what, "; ")
	if len(p.Drift) > 0 {
		reason += "; not repaired (drift: report)"
	}
	if state == StateMissing {
		reason = fmt.Sprintf("%d of %d replicas up; %s", sr.Up, sr.Replicas, reason)
	}
	return state, reason
}

// waitState is the state of a service whose ops wait: suspended, or
// waiting for the deploy window, with why and what waits.
func (v view) waitState(sr *ServiceReport, p *reconcile.Plan, ops []reconcile.Op) (string, string) {
	state := StateWaiting
	if v.suspended[sr.Stack] != "" || v.suspended[""] != "" {
		state = StateSuspended
	}
	what := []string{p.Waits[sr.Stack]}
	for _, op := range ops {
		what = append(what, fmt.Sprintf("%s %s (%s)", op.Kind, op.Resource, op.Cause))
	}
	return state, strings.Join(what, "; ")
}

// activeHolds are the failures of d's revision and configs whose retry is
// not due at now, with why.
func activeHolds(failures map[string]Failure, d *reconcile.Desired, now time.Time) map[string]string {
	held := map[string]string{}
	for key, f := range failures {
		svc := d.Service(key)
		if svc != nil && f.Revision == d.Revision && f.Hash == svc.Hash && (now.Before(f.RetryAt) || f.Digest != "") {
			held[key] = heldReason(f)
		}
	}
	return held
}

// ReadReports reports every source that ran under stateDir, against one
// engine snapshot, as its controller would see it: from the status, desired
// state and decisions its last run recorded, and an apply under way. A
// state file of a source that cannot be read is one of its report's
// Problems; it never hides the other sources. The error is for a state
// dir whose sources cannot be listed.
func ReadReports(stateDir string, obs *reconcile.Observed, now time.Time) ([]SourceReport, error) {
	names, err := sourceNames(stateDir)
	if err != nil {
		return nil, err
	}
	var out []SourceReport
	for _, name := range names {
		if r := readReport(stateDir, name, obs, now); r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// readReport reports one source; nil for one that never ran.
func readReport(stateDir, name string, obs *reconcile.Observed, now time.Time) *SourceReport {
	r := &SourceReport{}
	st, err := ReadStatus(stateDir, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		st = &Status{Source: name}
		r.Problems = append(r.Problems, fmt.Sprintf("%v; what its last run found is unknown", err))
	}
	// As an older moor may have written them, before it refused URLs with
	// credentials.
	st.Repo, st.Error = repourl.Redact(st.Repo), repourl.RedactText(st.Error)
	r.Status = st
	v := view{rolling: readRolling(stateDir, name), adoptUnowned: readIdentity(stateDir).AdoptUnowned, window: st.Window, canary: st.Canary}
	// Suspensions are read as they are now: `moor suspend` may have
	// changed them since the last run.
	if ss, err := ReadSuspensions(stateDir, name); err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("%v; whether the source is suspended is unknown", err))
	} else {
		st.Suspended = ss
		v.suspended = suspendedReasons(ss)
	}
	if v.dec, err = readDecisions(stateDir, name); err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("%v; its controller starts afresh (no held services, no applied revision)", err))
	}
	if v.desired, v.driftReport, err = readDesired(stateDir, name); err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("%v; the states of its services are unknown until its next run", err))
	}
	if v.desired == nil {
		// A swarm source records its services as its last run saw them.
		services, err := readSwarmServices(stateDir, name)
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("%v; the states of its services are unknown until its next run", err))
		}
		if services != nil {
			r.Services = services
			return r
		}
	}
	r.Rolling = v.rolling
	r.Services = v.services(name, obs, now)
	return r
}

// Report is the source's report as of its last run (or the apply under
// way): what `moor run` serves on /status, without asking the engine.
// Nil before the first run.
func (c *Controller) Report() *SourceReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.report
}

// rollingOut is r with the apply rl under way.
func (r *SourceReport) rollingOut(rl *Rolling) *SourceReport {
	next := *r
	next.Rolling = rl
	next.Services = slices.Clone(r.Services)
	for i, s := range next.Services {
		if slices.Contains(rl.Services, reconcile.ServiceKey(s.Stack, s.Service)) {
			next.Services[i].State = StateRollingOut
			next.Services[i].Reason = "to " + shortRev(rl.Revision)
		}
	}
	return &next
}

// WriteReport prints reports as `moor status` shows them. What comes from
// a repository or the engine (subjects, errors and reasons that quote a
// repository's files, names) is printed escaped: see printable.
func WriteReport(w io.Writer, reports []SourceReport, now time.Time) {
	esc := printable.Escape
	if len(reports) == 0 {
		fmt.Fprintln(w, "no source has run yet")
	}
	for _, r := range reports {
		fmt.Fprintf(w, "source %s", esc(r.Source))
		if r.Repo != "" {
			fmt.Fprintf(w, "  %s  ref %s", esc(repourl.Redact(r.Repo)), esc(r.Ref))
		}
		if r.Path != "" {
			fmt.Fprintf(w, "  path %s", esc(r.Path))
		}
		fmt.Fprintln(w)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  problem  %s\n", esc(p))
		}
		if r.Result != "" {
			writeRun(w, r, now)
		}
		if r.Rolling != nil {
			fmt.Fprintf(w, "  rolling out %s, started %s\n", esc(r.Rolling.Revision), ago(now, r.Rolling.Started))
		}
		for _, wn := range r.Warnings {
			fmt.Fprintf(w, "  warning  %s (%s, %s)\n", esc(wn.Message), shortRev(wn.Revision), ago(now, wn.At))
		}
		for _, s := range r.Services {
			fmt.Fprintf(w, "  %-30s %-16s %d/%d", esc(s.Stack+"/"+s.Service), esc(s.State), s.Up, s.Replicas)
			if s.Reason != "" {
				fmt.Fprintf(w, "  %s", printable.Lines(s.Reason, "    "))
			}
			fmt.Fprintln(w)
			for _, c := range s.Containers {
				state := c.State
				if c.Health != "" {
					state += " (" + c.Health + ")"
				}
				if c.State == reconcile.StateExited {
					state += fmt.Sprintf(" (%d)", c.ExitCode)
				}
				fmt.Fprintf(w, "    %-32s %-12s %-22s %s %s\n", esc(c.Name), esc(c.ID), esc(state), esc(shortRev(c.Revision)), esc(c.Image))
			}
		}
	}
}

// writeRun prints what the last run of a source found.
func writeRun(w io.Writer, r SourceReport, now time.Time) {
	esc := printable.Escape
	fmt.Fprintf(w, "  desired  %s \"%s\"\n", esc(r.Revision), esc(r.Subject))
	applied := esc(r.Applied)
	if applied == "" {
		applied = "(none yet)"
	} else {
		applied += " (" + ago(now, r.AppliedAt) + ")"
	}
	fmt.Fprintf(w, "  applied  %s\n", applied)
	fmt.Fprintf(w, "  last run %s, %s\n", esc(r.Result), ago(now, r.LastRun))
	if !r.LastDriftCheck.IsZero() {
		fmt.Fprintf(w, "  engine last checked for drift %s\n", ago(now, r.LastDriftCheck))
	}
	if ic := r.LastImageCheck; ic != nil {
		fmt.Fprintf(w, "  images last checked in the registry %s: %s\n", ago(now, ic.At), printable.Lines(ic.summary(), "           "))
	}
	if !r.UnreachableSince.IsZero() {
		good := esc(r.Applied)
		if good == "" {
			good = "none"
		}
		fmt.Fprintf(w, "  source unreachable since %s (last good revision %s); nothing on the host was touched\n", r.UnreachableSince.UTC().Format(time.RFC3339), good)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error    (%s) %s\n", esc(r.ErrorClass), printable.Lines(r.Error, "           "))
	}
	for _, s := range r.Suspended {
		fmt.Fprintf(w, "  suspended %s (by %s at %s); moor resume %s applies what waits\n", esc(s.Target()), esc(s.By),
			s.At.UTC().Format(time.RFC3339), esc(strings.TrimSpace(r.Source+" "+s.Stack)))
	}
	if r.Window != "" {
		fmt.Fprintf(w, "  %s\n", esc(r.Window))
	}
	for _, op := range r.Waiting {
		fmt.Fprintf(w, "  hold     %s\n", esc(op))
	}
	if len(r.Drift) > 0 {
		fmt.Fprintf(w, "  drift    not repaired (drift: report); moor apply would:\n")
		for _, op := range r.Drift {
			fmt.Fprintf(w, "           %s\n", esc(op))
		}
	}
	if !r.FailingSince.IsZero() {
		fmt.Fprintf(w, "  failing since %s\n", r.FailingSince.Format(time.RFC3339))
	}
}

// runningRevisions names the revisions the service's running containers
// came from.
func runningRevisions(sr *ServiceReport) string {
	var revs []string
	for _, c := range sr.Containers {
		if c.State == reconcile.StateRunning && !slices.Contains(revs, shortRev(c.Revision)) {
			revs = append(revs, shortRev(c.Revision))
		}
	}
	if len(revs) == 0 {
		return "nothing"
	}
	return strings.Join(revs, " and ")
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

// shortRev turns "main@sha1:<40 hex>" into "main@abcdef1".
func shortRev(rev string) string {
	ref, sha, ok := strings.Cut(rev, "@sha1:")
	if !ok || len(sha) < 7 {
		return rev
	}
	return ref + "@" + sha[:7]
}

// WithoutOutput is r with what containers and health checks printed
// (reconcile.WithholdOutput) taken out of every message: the report that
// may be shown to anyone who can reach moor's port. r is not changed.
func (r *SourceReport) WithoutOutput() *SourceReport {
	out := *r
	if r.Status != nil {
		st := *r.Status
		st.Error = reconcile.WithholdOutput(st.Error)
		st.Broken = withholdAll(st.Broken)
		st.Blocked = withholdAll(st.Blocked)
		st.Held = withholdAll(st.Held)
		st.Conflicts = withholdAll(st.Conflicts)
		st.Canary = withholdAll(st.Canary)
		if st.Warnings != nil {
			st.Warnings = slices.Clone(st.Warnings)
			for i := range st.Warnings {
				st.Warnings[i].Message = reconcile.WithholdOutput(st.Warnings[i].Message)
			}
		}
		if ic := st.LastImageCheck; ic != nil {
			c := *ic
			c.Skipped = reconcile.WithholdOutput(c.Skipped)
			c.Errors = slices.Clone(c.Errors)
			for i := range c.Errors {
				c.Errors[i] = reconcile.WithholdOutput(c.Errors[i])
			}
			st.LastImageCheck = &c
		}
		if st.Failures != nil {
			st.Failures = make(map[string]Failure, len(r.Failures))
			for k, f := range r.Failures {
				f.Reason = reconcile.WithholdOutput(f.Reason)
				st.Failures[k] = f
			}
		}
		out.Status = &st
	}
	out.Problems = slices.Clone(r.Problems)
	for i := range out.Problems {
		out.Problems[i] = reconcile.WithholdOutput(out.Problems[i])
	}
	out.Services = slices.Clone(r.Services)
	for i := range out.Services {
		out.Services[i].Reason = reconcile.WithholdOutput(out.Services[i].Reason)
	}
	return &out
}

func withholdAll(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = reconcile.WithholdOutput(v)
	}
	return out
}
