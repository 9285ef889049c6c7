package controller

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// A stack's health at its source's revision, as a host reports it to the
// hosts that wait for it as a canary (the API's stacks, docs/canary.md).
const (
	// HealthHealthy: every service of the stack matches the revision, and
	// every container of it runs and is not unhealthy.
	HealthHealthy = "healthy"
	// HealthFailed: the stack's rollout to the revision failed (the old
	// containers run, held back), or the stack is broken, blocked or in
	// conflict: it does not get healthy at this revision on its own.
	HealthFailed = "failed"
	// HealthPending: anything else: an apply under way, ops waiting,
	// containers starting, no run yet.
	HealthPending = "pending"
)

// StackHealth says how stack stands at the revision the report's last run
// resolved (Status.Revision), and why when it is not healthy.
func (r *SourceReport) StackHealth(stack string) (health, why string) {
	if r == nil || r.Status == nil || r.Status.Revision == "" {
		return HealthPending, "no run yet"
	}
	st := r.Status
	if b := st.Broken[stack]; b != "" {
		return HealthFailed, "broken: " + b
	}
	if c := st.Conflicts[stack]; c != "" {
		return HealthFailed, "conflict: " + c
	}
	for _, key := range slices.Sorted(maps.Keys(st.Failures)) {
		if f := st.Failures[key]; strings.HasPrefix(key, stack+"/") && f.Revision == st.Revision {
			return HealthFailed, fmt.Sprintf("service %s: %s", key, f.Reason)
		}
	}
	var pending []string
	found := false
	for _, s := range r.Services {
		if s.Stack != stack {
			continue
		}
		found = true
		key := s.Stack + "/" + s.Service
		switch s.State {
		case StateBlocked, StateDegraded, StateConflict, StateBroken:
			return HealthFailed, fmt.Sprintf("service %s %s: %s", key, s.State, s.Reason)
		case StateInSync, StateRemoved:
		default:
			pending = append(pending, fmt.Sprintf("service %s %s", key, s.State))
			continue
		}
		for _, c := range s.Containers {
			if s.State == StateInSync && (c.Health == "unhealthy" || c.Health == "starting") {
				pending = append(pending, fmt.Sprintf("container %s %s", c.Name, c.Health))
			}
		}
	}
	switch {
	case r.Rolling != nil:
		return HealthPending, "applying " + shortRev(r.Rolling.Revision)
	case !found:
		return HealthPending, "does not run stack " + stack
	case len(pending) > 0:
		return HealthPending, strings.Join(pending, ", ")
	}
	return HealthHealthy, ""
}
