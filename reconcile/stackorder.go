package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Ordering between stacks (x-moor.depends_on, Stack.DependsOn).
//
// A stack's container ops wait, through a Wait with its Stack set, until
// the container ops of every stack it needs, directly or not, are done in
// this plan and their replicas are up: healthy where they have a
// healthcheck, started otherwise. When one of those failed, they are
// skipped, naming the stack. Pulls, builds, networks, volumes and files
// of every stack still come first, all at once, in the phases before
// any container op: the order is between containers. A needed stack that this plan leaves behind (a held or
// blocked service, a conflict) holds its dependents back too, in the plan.
//
// A stack removed from git is removed after the stacks that needed it
// (Constraints.StackNeeds, as of the revision that last held them) when
// they go in the same plan. Stacks with no relation run at once, as
// before. The loader refuses cycles; the order here is still built so
// that no wait can go round one.

// ConditionRemoved is what the removal of a stack waits for of a stack
// that needed it: that stack's ops in this plan are done. It is no
// compose condition.
const ConditionRemoved = "removed"

// stackOrder is the order between the stacks of one plan.
type stackOrder struct {
	// up are the desired stacks' needs and ranks: a stack ranks after
	// every stack it needs.
	up graph
	// down are the removed stacks' dependents and ranks: a removed stack
	// ranks after every removed stack that needed it.
	down graph
}

// graph is an acyclic relation between stacks: each one's edges lead to
// stacks of a lower rank only.
type graph struct {
	edges map[string][]string
	rank  map[string]int
}

// orderStacks builds the order between the stacks of d, and of the stacks
// removed, from what needed them.
func orderStacks(d *Desired, c Constraints, removed []string) stackOrder {
	up := map[string][]string{}
	for name, st := range d.Stacks {
		for _, need := range st.DependsOn {
			if d.Stacks[need] != nil {
				up[name] = append(up[name], need)
			}
		}
	}
	down := map[string][]string{}
	for _, name := range removed {
		for _, need := range c.StackNeeds[name] {
			if slices.Contains(removed, need) {
				down[need] = append(down[need], name)
			}
		}
	}
	return stackOrder{up: newGraph(up), down: newGraph(down)}
}

// newGraph ranks the stacks of edges, each after those its edges lead
// to; an edge that would close a cycle is dropped.
func newGraph(edges map[string][]string) graph {
	g := graph{edges: map[string][]string{}, rank: map[string]int{}}
	visiting := map[string]bool{}
	var visit func(string) int
	visit = func(n string) int {
		if r, ok := g.rank[n]; ok {
			return r
		}
		visiting[n] = true
		r := 0
		for _, next := range slices.Sorted(slices.Values(edges[n])) {
			if visiting[next] {
				continue
			}
			r = max(r, visit(next)+1)
			g.edges[n] = append(g.edges[n], next)
		}
		visiting[n] = false
		g.rank[n] = r
		return r
	}
	for _, n := range slices.Sorted(maps.Keys(edges)) {
		visit(n)
	}
	return g
}

// reach returns the stacks n leads to, directly or not, sorted.
func (g graph) reach(n string) []string {
	seen := map[string]bool{}
	queue := []string{n}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range g.edges[cur] {
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// holdDependents holds back every stack that needs one this plan leaves
// behind (a held or blocked service, a conflict): its ops are dropped and
// its services held, each naming the stack it waits for. Run once every
// stack is planned.
func (b *builder) holdDependents() {
	p := b.plan
	names := slices.SortedFunc(maps.Keys(b.d.Stacks), func(x, y string) int {
		return cmp.Or(cmp.Compare(b.order.up.rank[x], b.order.up.rank[y]), cmp.Compare(x, y))
	})
	for _, name := range names {
		why := ""
		for _, need := range b.order.up.reach(name) {
			if why = b.leftBehind(need); why != "" {
				break
			}
		}
		if why == "" {
			continue
		}
		kept := b.ops[:0]
		for _, op := range b.ops {
			if op.Stack != name {
				kept = append(kept, op)
			}
		}
		if len(kept) == len(b.ops) {
			continue // nothing to do for it: it runs as it is
		}
		b.ops = kept
		b.dropPulls(name)
		for _, svc := range b.d.Stacks[name].ServiceNames() {
			key := ServiceKey(name, svc)
			if _, ok := p.Held[key]; !ok && p.Blocked[key] == "" {
				p.Held[key] = why
			}
		}
	}
}

// dropPulls drops the pulls and builds that only stack name, held back,
// wanted: a held service pulls nothing.
func (b *builder) dropPulls(name string) {
	for img, pull := range b.pulls {
		if pull.Stack != name {
			continue
		}
		wanted := false
		for _, op := range b.ops {
			if op.Kind.ContainerOp() && op.Image == img {
				wanted = true
				break
			}
		}
		if !wanted {
			delete(b.pulls, img)
		}
	}
}

// leftBehind says why the plan leaves stack name behind, for the stacks
// that need it, or "".
func (b *builder) leftBehind(name string) string {
	if b.plan.Conflicts[name] != "" {
		return fmt.Sprintf("needs stack %s, which is a conflict", name)
	}
	prefix := name + "/"
	for _, what := range []struct {
		m    map[string]string
		verb string
	}{{b.plan.Held, "held"}, {b.plan.Blocked, "blocked"}} {
		for _, key := range slices.Sorted(maps.Keys(what.m)) {
			if strings.HasPrefix(key, prefix) {
				return fmt.Sprintf("needs stack %s, whose %s is %s", name, key, what.verb)
			}
		}
	}
	return ""
}

// rankOps orders the container ops of each stack after those of the
// stacks it needs, and those of a removed stack after those of the
// removed stacks that needed it, so that a plan reads in the order it
// runs.
func (b *builder) rankOps() {
	for i := range b.ops {
		op := &b.ops[i]
		if !op.Kind.ContainerOp() {
			continue
		}
		if b.d.Stacks[op.Stack] != nil {
			op.rank = b.order.up.rank[op.Stack]
		} else {
			op.rank = b.order.down.rank[op.Stack]
		}
	}
}

// linkStacks gives the container ops of each stack the waits of the
// order: a desired stack's on the services that change of every stack it
// needs; a removed stack's on the ops of every removed stack that needed
// it.
func (b *builder) linkStacks() {
	changing := map[string][]string{} // stack -> services with container ops
	for _, op := range b.plan.Ops {
		if op.Kind.ContainerOp() {
			changing[op.Stack] = appendNew(changing[op.Stack], op.Service)
		}
	}
	for _, svcs := range changing {
		slices.Sort(svcs)
	}
	for i := range b.plan.Ops {
		op := &b.plan.Ops[i]
		if !op.Kind.ContainerOp() {
			continue
		}
		if st := b.d.Stacks[op.Stack]; st != nil {
			if op.Kind == OpRemove {
				continue // it only takes away what the revision does not want
			}
			for _, need := range b.order.up.reach(op.Stack) {
				for _, name := range changing[need] {
					if svc := b.d.Stacks[need].Services[name]; svc != nil {
						op.Waits = append(op.Waits, stackWait(need, svc))
					}
				}
			}
			continue
		}
		for _, dep := range b.order.down.reach(op.Stack) {
			for _, name := range changing[dep] {
				op.Waits = append(op.Waits, Wait{Stack: dep, Service: name, Condition: ConditionRemoved, Required: true})
			}
		}
	}
}

// stackWait waits until svc, of the needed stack, is up: healthy when it
// has a healthcheck, started (or, for a job, exited 0) otherwise.
func stackWait(stack string, svc *Service) Wait {
	w := Wait{Stack: stack, Service: svc.Name, Condition: ConditionStarted, Required: true}
	if svc.Spec.hasHealthcheck() {
		w.Condition = ConditionHealthy
	}
	for n := 1; n <= svc.Replicas; n++ {
		w.Containers = append(w.Containers, svc.ReplicaName(stack, n))
	}
	return w
}

// afterStacks names the other stacks an op waits for, for `moor plan`:
// "after stack db", "after stacks db, proxy"; "" when none.
func (o Op) afterStacks() string {
	var stacks []string
	for _, w := range o.Waits {
		if w.Stack != "" {
			stacks = appendNew(stacks, w.Stack)
		}
	}
	switch len(stacks) {
	case 0:
		return ""
	case 1:
		return "after stack " + stacks[0]
	}
	slices.Sort(stacks)
	return "after stacks " + strings.Join(stacks, ", ")
}

// waitStack waits until the ops of a service of another stack in this
// plan are done and, unless it is being removed, its replicas are up.
func (r *applyRun) waitStack(ctx context.Context, w Wait, groups map[string]*serviceGroup) error {
	key := ServiceKey(w.Stack, w.Service)
	if dg := groups[key]; dg != nil {
		select {
		case <-dg.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if dg.err != nil && w.Condition != ConditionRemoved {
			return fmt.Errorf("needed stack %s failed: %s: %v", w.Stack, key, dg.err)
		}
	}
	if w.Condition == ConditionRemoved {
		return nil
	}
	for _, name := range w.Containers {
		if err := r.e.waitCondition(ctx, name, w.Condition); err != nil {
			return fmt.Errorf("needed stack %s: %s is not %s: %w", w.Stack, key, strings.TrimPrefix(w.Condition, "service_"), err)
		}
	}
	return nil
}
