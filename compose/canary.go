package compose

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/reconcile"
)

// canaryHostRE is a host name as config.CheckHostName takes one.
var canaryHostRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// stackCanary reads x-moor.canary: the hosts that take a change of the
// stack before the rest of the fleet, and how long the others wait for
// them. nil when the stack names none.
//
//	x-moor:
//	  canary:
//	    hosts: [edge-1, edge-2]   # required, at least one host name
//	    timeout: 30m              # optional: when the others give up waiting (still holding)
func stackCanary(p *types.Project) (*reconcile.Canary, error) {
	m, ok := p.Extensions[extMoor].(map[string]any)
	if !ok {
		return nil, nil // stackNeeds says what is wrong with x-moor itself
	}
	raw, ok := m["canary"]
	if !ok || raw == nil {
		return nil, nil
	}
	field := extMoor + ".canary"
	cm, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: must be a mapping (hosts: [HOST, ...], timeout: DURATION), not %s", field, yamlKind(raw))
	}
	for _, key := range slices.Sorted(maps.Keys(cm)) {
		if key != "hosts" && key != "timeout" {
			return nil, fmt.Errorf("%s: unknown key %q: moor knows hosts and timeout", field, key)
		}
	}
	c := &reconcile.Canary{}
	hosts, ok := cm["hosts"].([]any)
	switch {
	case cm["hosts"] == nil:
		return nil, fmt.Errorf("%s.hosts: missing: name the canary hosts (hosts: [HOST, ...])", field)
	case !ok:
		return nil, fmt.Errorf("%s.hosts: must be a list of host names, not %s", field, yamlKind(cm["hosts"]))
	case len(hosts) == 0:
		return nil, fmt.Errorf("%s.hosts: is empty: name at least one canary host", field)
	}
	for i, item := range hosts {
		at := fmt.Sprintf("%s.hosts[%d]", field, i)
		name, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("%s: must be a host name, not %s", at, yamlKind(item))
		}
		if !canaryHostRE.MatchString(name) {
			return nil, fmt.Errorf("%s %q: not a host name: want letters, digits, '_', '.' and '-', starting with a letter or digit", at, name)
		}
		if slices.Contains(c.Hosts, name) {
			return nil, fmt.Errorf("%s %q: listed twice", at, name)
		}
		c.Hosts = append(c.Hosts, name)
	}
	slices.Sort(c.Hosts)
	if raw, ok := cm["timeout"]; ok && raw != nil {
		at := field + ".timeout"
		s, ok := raw.(string)
		if !ok {
			return nil, fmt.Errorf("%s: must be a duration such as 30m, not %s", at, yamlKind(raw))
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%s %q: not a duration (want e.g. 30m or 2h)", at, s)
		}
		if d <= 0 {
			return nil, fmt.Errorf("%s %q: must be positive", at, s)
		}
		c.Timeout = d
	}
	return c, nil
}
