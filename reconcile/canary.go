package reconcile

import "time"

// Canary is a stack's x-moor.canary: the hosts of a fleet that take a
// change of the stack first. Any other host applies the change only once
// every one of them reports the stack healthy at the same commit or at a
// descendant of it (the controller checks; the plan holds the stack's ops
// meanwhile, Constraints.Canary).
type Canary struct {
	// Hosts are the canary hosts' names (config.Host.Name), sorted.
	Hosts []string
	// Timeout, when not zero, is how long a host waits for the canaries
	// before it says it gave up: the change is still held, never applied.
	Timeout time.Duration `json:",omitempty"`
}

// IsCanary reports whether host is one of the canary hosts.
func (c *Canary) IsCanary(host string) bool {
	if c == nil {
		return false
	}
	for _, h := range c.Hosts {
		if h == host {
			return true
		}
	}
	return false
}
