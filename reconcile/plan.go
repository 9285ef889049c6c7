package reconcile

import (
	"fmt"
	"sort"
	"strings"
)

// OpKind is what an operation does.
type OpKind int

// Operation kinds, in the order the executor's phases run them.
const (
	OpCreateNetwork OpKind = iota + 1
	OpCreateVolume
	OpPull
	OpRestore // rename a retired container back and start it
	OpCreate
	OpReplace
	OpStart
	OpRemove
	OpRemoveNetwork
	OpRemoveVolume // only when the source prunes volumes
)

var opNames = map[OpKind]string{
	OpCreateNetwork: "create-network",
	OpCreateVolume:  "create-volume",
	OpPull:          "pull",
	OpRestore:       "restore",
	OpCreate:        "create",
	OpReplace:       "replace",
	OpStart:         "start",
	OpRemove:        "remove",
	OpRemoveNetwork: "remove-network",
	OpRemoveVolume:  "remove-volume",
}

func (k OpKind) String() string {
	if s, ok := opNames[k]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", int(k))
}

// Op is one operation of a plan: what to do to which resource, and why.
type Op struct {
	Kind OpKind
	// Resource identifies what the op touches: "STACK/SERVICE/N" for a
	// container, "STACK/network/KEY" or "STACK/volume/KEY", or the image
	// reference for a pull.
	Resource string
	// Cause says why, in words a person reads in `moor plan`.
	Cause string

	Stack   string
	Service string // empty for networks, volumes and pulls
	Number  int    // replica number for container ops

	// Container is the observed container the op acts on (start, replace,
	// remove, restore); nil for create.
	Container *Container
	// Network, Volume: what to create (create-network, create-volume), or
	// for remove-network, the observed name in Network.Name.
	Network *NetworkSpec
	Volume  *VolumeSpec
	// Image is the reference to pull (pull), or the image of the service.
	Image string
}

// String renders the op as `moor plan` prints it: "replace web/api/1 (config changed: environment)".
func (o Op) String() string {
	return fmt.Sprintf("%s %s (%s)", o.Kind, o.Resource, o.Cause)
}

// Plan is the ordered list of operations that takes the host from the
// observed state to the desired one.
type Plan struct {
	Source   string
	Revision string
	Ops      []Op
	// Broken are stacks the revision holds but that did not load; they are
	// left as they run.
	Broken map[string]string
	// Blocked are services that cannot converge this time (Service.Err),
	// by "STACK/SERVICE"; their containers are left as they run.
	Blocked map[string]string
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Ops) == 0 }

// String renders the plan, one op per line, followed by the broken stacks
// and blocked services. It is what `moor plan` prints and what tests assert.
func (p *Plan) String() string {
	var b strings.Builder
	for _, op := range p.Ops {
		b.WriteString(op.String())
		b.WriteByte('\n')
	}
	for _, name := range sortedKeys(p.Broken) {
		fmt.Fprintf(&b, "broken %s (%s)\n", name, p.Broken[name])
	}
	for _, name := range sortedKeys(p.Blocked) {
		fmt.Fprintf(&b, "blocked %s (%s)\n", name, p.Blocked[name])
	}
	return b.String()
}

// Stacks returns the names of the stacks the plan touches, sorted.
func (p *Plan) Stacks() []string {
	seen := map[string]bool{}
	for _, op := range p.Ops {
		seen[op.Stack] = true
	}
	return sortedKeys(seen)
}

// sortOps orders ops by phase (kind), then stack, service, replica and
// resource, so a plan never depends on map or daemon order.
func sortOps(ops []Op) {
	sort.SliceStable(ops, func(i, j int) bool {
		a, b := ops[i], ops[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Stack != b.Stack {
			return a.Stack < b.Stack
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Number != b.Number {
			return a.Number < b.Number
		}
		return a.Resource < b.Resource
	})
}
