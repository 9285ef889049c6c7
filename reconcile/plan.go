package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// OpKind is what an operation does.
type OpKind int

// Operation kinds. The executor runs them in phases, in this order: pulls
// and builds, then networks and volumes, then every service's container ops, then
// network and volume removals.
const (
	OpCreateNetwork OpKind = iota + 1
	OpCreateVolume
	OpPull
	OpBuild     // build a service's image on the host (compose's build:)
	OpSyncFiles // write a revision's tracked files into a stack's directory
	OpAdopt     // take over a container docker compose made
	OpRestore   // rename a retired container back and start it
	OpCreate
	OpReplace
	OpStart
	OpRestart // stop and start a running replica
	OpRemove
	OpRemoveNetwork
	OpRemoveVolume // only when the source prunes volumes
	OpRunJob       // run a job's container to completion (a new one)

	// The ops of a source whose runtime is swarm (package swarm), on
	// Swarm's objects by their names: "create service web_api".
	OpCreateService
	OpUpdateService
	OpRemoveService
	OpCreateSwarmNetwork
	OpRemoveSwarmNetwork
	OpCreateConfig
	OpRemoveConfig
	OpCreateSecret
	OpRemoveSecret
	OpRemoveSwarmVolume // only when the source prunes volumes
)

var opNames = map[OpKind]string{
	OpCreateNetwork: "create-network",
	OpCreateVolume:  "create-volume",
	OpPull:          "pull",
	OpBuild:         "build",
	OpSyncFiles:     "sync-files",
	OpAdopt:         "adopt",
	OpRestore:       "restore",
	OpCreate:        "create",
	OpReplace:       "replace",
	OpStart:         "start",
	OpRestart:       "restart",
	OpRemove:        "remove",
	OpRemoveNetwork: "remove-network",
	OpRemoveVolume:  "remove-volume",
	OpRunJob:        "run-job",

	OpCreateService:      "create service",
	OpUpdateService:      "update service",
	OpRemoveService:      "remove service",
	OpCreateSwarmNetwork: "create network",
	OpRemoveSwarmNetwork: "remove network",
	OpCreateConfig:       "create config",
	OpRemoveConfig:       "remove config",
	OpCreateSecret:       "create secret",
	OpRemoveSecret:       "remove secret",
	OpRemoveSwarmVolume:  "remove volume",
}

func (k OpKind) String() string {
	if s, ok := opNames[k]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", int(k))
}

// ContainerOp reports whether ops of kind k act on one container of a
// service: they run in the service's group, after its dependencies.
func (k OpKind) ContainerOp() bool {
	return k == OpAdopt || k == OpRestore || k == OpCreate || k == OpReplace || k == OpStart || k == OpRestart || k == OpRemove ||
		k == OpRunJob
}

// ServiceOp reports whether ops of kind k act on one Swarm service: they
// count as the service's ops, as container ops do on one host.
func (k OpKind) ServiceOp() bool {
	return k == OpCreateService || k == OpUpdateService || k == OpRemoveService
}

// Op is one operation of a plan: what to do to which resource, why, and the
// engine calls (Steps) that do it.
type Op struct {
	Kind OpKind
	// Resource identifies what the op touches: "STACK/SERVICE/N" for a
	// container, "STACK/SERVICE/NAME" for a container that is not a
	// canonical replica, "STACK/network/KEY" or "STACK/volume/KEY", or the
	// image reference for a pull or a build.
	Resource string
	// Cause says why, in words a person reads in `moor plan`.
	Cause string

	Stack   string
	Service string // empty for networks, volumes and pulls
	Number  int    // replica number for container ops

	// Container is the observed container the op acts on (start, replace,
	// remove, restore); nil for create.
	Container *Container
	// Image is the reference to pull (pull) or build (build), or the image
	// of the service.
	Image string

	// Rollout is how a replacement is rolled out: its order, batch and
	// failure policy. Set on OpReplace only.
	Rollout *Rollout
	// Strategy is how Swarm rolls out a service's update, as `moor plan`
	// shows it after the cause: "start-first, rollback on failure".
	Strategy string `json:",omitempty"`
	// Needs are the Resources of ops of this plan that must have succeeded
	// before this one runs (its image's pull or build, its stack's
	// networks); when
	// one failed, this op is skipped.
	Needs []string
	// Waits are the depends_on conditions of the op's service on services
	// that change in this plan.
	Waits []Wait
	// Warning, when set, is something the operator must hear of when the
	// op runs: data that should be there and is not.
	Warning string
	// UndoIfAllFail are the Resources of ops whose failure, every one of
	// them, undoes this op once they are done: a stack's files go back to
	// the revision its old containers run when none of its new ones came up.
	UndoIfAllFail []string
	// Steps carry the op out, in order; each may say how to undo itself.
	Steps []Step

	// seq is where a remove runs among its service's ops (seqFirst or
	// seqLast).
	seq int
	// rank is where a container op's stack runs among the stacks
	// (stackorder.go).
	rank int
}

// String renders the op as `moor plan` prints it:
// "replace web/api/1 (config changed: environment) [start-first, batch 1/2, rollback on failure]";
// an op that waits for other stacks (x-moor.depends_on) says so after its
// cause: "create web/api/1 (missing) after stack db", and one that waits
// for jobs in this plan after that: "after job migrate", both before the
// rollout.
func (o Op) String() string {
	s := fmt.Sprintf("%s %s (%s)", o.Kind, o.Resource, o.Cause)
	if after := o.afterStacks(); after != "" {
		s += " " + after
	}
	switch jobs := jobWaits(o.Waits); len(jobs) {
	case 0:
	case 1:
		s += " after job " + jobs[0]
	default:
		s += " after jobs " + strings.Join(jobs, ", ")
	}
	if o.Rollout != nil {
		s += " " + o.Rollout.String()
	}
	if o.Strategy != "" {
		s += " [" + o.Strategy + "]"
	}
	return s
}

// ServiceKey is "STACK/SERVICE": how plans, holds and status name a service.
func ServiceKey(stack, service string) string { return stack + "/" + service }

// Plan is the ordered list of operations that takes the host from the
// observed state to the desired one, with everything the executor needs to
// carry them out: it reads nothing else.
type Plan struct {
	Source   string
	Revision string
	Ops      []Op
	// Broken are stacks the revision holds but that did not load; they are
	// left as they run.
	Broken map[string]string
	// Blocked are services that cannot converge this time (their image is
	// missing and cannot be pulled), by "STACK/SERVICE"; their containers
	// are left as they run.
	Blocked map[string]string
	// Held are services whose rollout to this revision failed recently and
	// whose retry is not due (Constraints.Held), by "STACK/SERVICE"; their
	// containers are left as they run.
	Held map[string]string
	// Conflicts are stacks the revision wants whose containers belong to
	// another moor instance or source, by name, with whose: they are left
	// alone.
	Conflicts map[string]string
	// Drift is what would repair a host that no longer matches the revision
	// it was converged to, under Constraints.ReportDrift: reported, not
	// applied.
	Drift []Op
	// Waiting are the ops held back by a suspension, a canary or a closed
	// deploy window (Constraints.Suspended, Constraints.Canary,
	// Constraints.Window): planned, shown,
	// not applied. Waits says why, by stack.
	Waiting []Op
	Waits   map[string]string `json:",omitempty"`
	// Notes say what an explicit apply does that a controller run would
	// not (retrying a held service, repairing reported drift).
	Notes []string
	// Warnings are the stacks' load warnings (Stack.Warnings), each
	// prefixed "stack NAME: ". They change nothing.
	Warnings []string `json:",omitempty"`
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Ops) == 0 }

// Converged reports whether the host matches the revision: nothing to do,
// nothing held back, waiting, reported or left broken.
func (p *Plan) Converged() bool {
	return p.Empty() && len(p.Drift) == 0 && len(p.Waiting) == 0 && len(p.Broken) == 0 && len(p.Blocked) == 0 && len(p.Held) == 0 && len(p.Conflicts) == 0
}

// String renders the plan, one op per line, followed by the broken stacks,
// blocked and held services, reported drift and notes. It is what `moor
// plan` prints and what tests assert.
func (p *Plan) String() string {
	var b strings.Builder
	for _, op := range p.Ops {
		b.WriteString(op.String())
		b.WriteByte('\n')
	}
	p.writeTrailer(&b)
	return b.String()
}

// Detail is String with every op's steps, numbered, each with its undo:
// how the executor will carry the plan out (`moor plan --steps`).
func (p *Plan) Detail() string {
	var b strings.Builder
	for _, op := range p.Ops {
		b.WriteString(op.String())
		b.WriteByte('\n')
		writeOpDetail(&b, op)
	}
	p.writeTrailer(&b)
	return b.String()
}

func writeOpDetail(b *strings.Builder, op Op) {
	if len(op.Needs) > 0 {
		fmt.Fprintf(b, "    after %s\n", strings.Join(op.Needs, ", "))
	}
	for _, w := range op.Waits {
		fmt.Fprintf(b, "    after %s\n", w)
	}
	for i, s := range op.Steps {
		line := fmt.Sprintf("    %d %s", i+1, s)
		if len(s.Undo) > 0 {
			undo := make([]string, len(s.Undo))
			for j, u := range s.Undo {
				undo[j] = u.String()
			}
			line = fmt.Sprintf("%-56s undo: %s", line, strings.Join(undo, ", "))
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
}

func (p *Plan) writeTrailer(b *strings.Builder) {
	for _, name := range slices.Sorted(maps.Keys(p.Broken)) {
		fmt.Fprintf(b, "broken %s (%s)\n", name, p.Broken[name])
	}
	for _, name := range slices.Sorted(maps.Keys(p.Conflicts)) {
		fmt.Fprintf(b, "conflict %s (%s)\n", name, p.Conflicts[name])
	}
	for _, name := range slices.Sorted(maps.Keys(p.Blocked)) {
		fmt.Fprintf(b, "blocked %s (%s)\n", name, p.Blocked[name])
	}
	for _, name := range slices.Sorted(maps.Keys(p.Held)) {
		fmt.Fprintf(b, "held %s (%s)\n", name, p.Held[name])
	}
	for _, op := range p.Drift {
		fmt.Fprintf(b, "drift %s\n", op)
	}
	for _, op := range p.Waiting {
		fmt.Fprintf(b, "hold %s: %s\n", op, p.Waits[op.Stack])
	}
	for _, n := range p.Notes {
		fmt.Fprintf(b, "note: %s\n", n)
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(b, "warning: %s\n", w)
	}
}

// Stacks returns the names of the stacks the plan touches, sorted.
func (p *Plan) Stacks() []string {
	seen := map[string]bool{}
	for _, op := range p.Ops {
		seen[op.Stack] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// ServiceOps returns the container ops and reported drift of each
// service, by "STACK/SERVICE".
func (p *Plan) ServiceOps() map[string][]Op {
	out := map[string][]Op{}
	for _, ops := range [][]Op{p.Ops, p.Drift} {
		for _, op := range ops {
			if op.Kind.ContainerOp() || op.Kind.ServiceOp() {
				key := ServiceKey(op.Stack, op.Service)
				out[key] = append(out[key], op)
			}
		}
	}
	return out
}
