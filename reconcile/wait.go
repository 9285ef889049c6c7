package reconcile

import (
	"fmt"
	"maps"
	"slices"
)

// wait splits ops, sorted, into those applied now and those held back by a
// suspension, a canary or a closed deploy window (Constraints.Suspended,
// Constraints.Canary, Constraints.Window), and says why in Plan.Waits, by
// stack. A stack waits when it is suspended, when the whole source is,
// when its change waits for its canary hosts, when it needs
// (x-moor.depends_on) a stack whose ops wait, or when the window is
// closed. A pull or a build waits with the stack it was planned for,
// unless an op applied now wants its image.
func (b *builder) wait(ops []Op) (now, waiting []Op) {
	c := b.c
	if len(c.Suspended) == 0 && len(c.Canary) == 0 && c.Window == "" {
		return ops, nil
	}
	withOps := map[string]bool{}
	for _, op := range ops {
		withOps[op.Stack] = true
	}
	why := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(withOps)) {
		switch {
		case c.Suspended[name] != "":
			why[name] = c.Suspended[name]
		case c.Suspended[""] != "":
			why[name] = c.Suspended[""]
		case c.Canary[name] != "":
			why[name] = c.Canary[name]
		}
	}
	// A stack that needs a waiting stack waits for it: its ops would wait
	// on services that do not change.
	for _, name := range slices.Sorted(maps.Keys(withOps)) {
		if why[name] != "" || b.d.Stacks[name] == nil {
			continue
		}
		for _, need := range b.order.up.reach(name) {
			if w := why[need]; w != "" && (c.Suspended[need] != "" || c.Canary[need] != "") {
				why[name] = fmt.Sprintf("needs stack %s, which is %s", need, w)
				break
			}
		}
	}
	if c.Window != "" {
		for name := range withOps {
			if why[name] == "" {
				why[name] = c.Window
			}
		}
	}
	wanted := map[string]bool{} // images that ops applied now run
	for _, op := range ops {
		if op.Kind.ContainerOp() && why[op.Stack] == "" {
			wanted[op.Image] = true
		}
	}
	for _, op := range ops {
		held := why[op.Stack] != ""
		if (op.Kind == OpPull || op.Kind == OpBuild) && wanted[op.Image] {
			held = false
		}
		if held {
			waiting = append(waiting, op)
		} else {
			now = append(now, op)
		}
	}
	if len(waiting) > 0 {
		b.plan.Waits = map[string]string{}
		for _, op := range waiting {
			b.plan.Waits[op.Stack] = why[op.Stack]
		}
	}
	return now, waiting
}
