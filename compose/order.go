package compose

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/reconcile"
)

// extMoor is the top-level extension that holds what moor reads of a
// stack beyond compose: compose itself ignores x- keys.
const extMoor = "x-moor"

// moorKeys are the keys x-moor may hold, sorted; any other is refused.
// Each is read where its concern lives: depends_on here, canary in
// canary.go, hosts and host_labels in fleet.go.
var moorKeys = []string{"canary", "depends_on", "host_labels", "hosts"}

// stackNeeds reads x-moor.depends_on: the names of the stacks this one
// needs, sorted. Every key under x-moor is known or refused, as every
// compose field is.
func stackNeeds(p *types.Project) ([]string, error) {
	raw, ok := p.Extensions[extMoor]
	if !ok || raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: must be a mapping (depends_on: [STACK, ...]), not %s", extMoor, yamlKind(raw))
	}
	for _, key := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(moorKeys, key) {
			return nil, fmt.Errorf("%s: unknown key %q: moor knows %s", extMoor, key, strings.Join(moorKeys, ", "))
		}
	}
	field := extMoor + ".depends_on"
	var list []any
	switch v := m["depends_on"].(type) {
	case nil:
		return nil, nil
	case []any:
		list = v
	default:
		return nil, fmt.Errorf("%s: must be a list of stack names, not %s", field, yamlKind(v))
	}
	var out []string
	for i, item := range list {
		name, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: must be a stack name, not %s", field, i, yamlKind(item))
		}
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") {
			return nil, fmt.Errorf("%s[%d] %q: not a stack name (the name of a stack's directory)", field, i, name)
		}
		if slices.Contains(out, name) {
			return nil, fmt.Errorf("%s[%d] %q: listed twice", field, i, name)
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// yamlKind names the kind of a decoded YAML value in a message.
func yamlKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// CheckOrder finds the stacks whose x-moor.depends_on cannot be honoured,
// given the stacks that loaded and those already broken: the stacks of a
// cycle, each message naming the cycle from that stack; and then, until
// none is left, a stack that needs one that is not in the revision or is
// broken. Such a stack is not started blindly without what it needs: it
// goes to Desired.Broken and is left as it runs.
func CheckOrder(stacks map[string]*reconcile.Stack, broken map[string]error) map[string]error {
	out := map[string]error{}
	for _, name := range slices.Sorted(maps.Keys(stacks)) {
		if cycle := findCycle(stacks, name); cycle != nil {
			out[name] = orderError(stacks[name], "cycle %s", strings.Join(cycle, " -> "))
		}
	}
	for changed := true; changed; {
		changed = false
		for _, name := range slices.Sorted(maps.Keys(stacks)) {
			if out[name] != nil {
				continue
			}
			for _, need := range stacks[name].DependsOn {
				_, loaded := stacks[need]
				_, isBroken := broken[need]
				switch {
				case out[need] != nil || isBroken:
					out[name] = orderError(stacks[name], "needs stack %s, which is broken: it is left as it runs until %s loads", need, need)
				case !loaded:
					out[name] = orderError(stacks[name], "needs stack %s, which is not in the revision: it is left as it runs", need)
				default:
					continue
				}
				changed = true
				break
			}
		}
	}
	return out
}

func orderError(st *reconcile.Stack, format string, a ...any) error {
	return fmt.Errorf("stack %s (%s): %s.depends_on: %s", st.Name, path.Join(st.Dir, st.File), extMoor, fmt.Sprintf(format, a...))
}

// findCycle returns the shortest cycle of needs from start back to it
// ([start, ..., start]), or nil when start is on none. Needs are followed
// in sorted order, so the cycle named is always the same.
func findCycle(stacks map[string]*reconcile.Stack, start string) []string {
	prev := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range stacks[cur].DependsOn {
			if next == start {
				cycle := []string{start}
				for n := cur; n != start; n = prev[n] {
					cycle = append(cycle, n)
				}
				slices.Reverse(cycle[1:])
				return append(cycle, start)
			}
			if _, seen := prev[next]; seen || stacks[next] == nil {
				continue
			}
			prev[next] = cur
			queue = append(queue, next)
		}
	}
	return nil
}
