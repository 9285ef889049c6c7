package reconcile

import (
	"fmt"
	"strings"
	"time"
)

// Replacement orders (deploy.update_config.order).
const (
	OrderStartFirst = "start-first" // the new container is ready before the old one stops
	OrderStopFirst  = "stop-first"  // the old container stops before the new one starts
)

// Failure actions (deploy.update_config.failure_action): what the rollout
// of a service does once more replicas failed than MaxFailureRatio allows.
// Whatever the action, a replica whose new container does not come up gets
// its old container back.
const (
	FailureRollback = "rollback" // every replica this rollout replaced gets its old container back
	FailurePause    = "pause"    // stop: replaced replicas keep the new version, the rest the old
	FailureContinue = "continue" // go on with the remaining replicas
)

// UpdateConfig is how a service's replicas are replaced: compose's
// deploy.update_config. The zero value is moor's default: order by ports,
// one replica at a time, no delay, the executor's monitor period, rollback
// on the first failure.
type UpdateConfig struct {
	// Order is OrderStartFirst, OrderStopFirst, or "" for the default:
	// start-first unless the service publishes a host port or has a fixed
	// IP address (two containers cannot hold one).
	Order string `json:",omitempty"`
	// Parallelism is how many replicas are replaced at once; 0 means 1.
	Parallelism int `json:",omitempty"`
	// Delay is the pause between two batches.
	Delay time.Duration `json:",omitempty"`
	// Monitor is how long a new container without a healthcheck must keep
	// running, without a restart, to count as up; 0: the executor's.
	Monitor time.Duration `json:",omitempty"`
	// FailureAction is FailureRollback (""), FailurePause or FailureContinue.
	FailureAction string `json:",omitempty"`
	// MaxFailureRatio is the share of replicas (0 to 1) allowed to fail
	// before FailureAction is taken.
	MaxFailureRatio float64 `json:",omitempty"`
}

// Check checks the values compose cannot check for moor, and that an
// explicit start-first order can work for a container made from spec.
func (u UpdateConfig) Check(spec ContainerSpec) error {
	switch u.Order {
	case "", OrderStartFirst, OrderStopFirst:
	default:
		return fmt.Errorf("order %q: use start-first or stop-first", u.Order)
	}
	switch u.FailureAction {
	case "", FailureRollback, FailurePause, FailureContinue:
	default:
		return fmt.Errorf("failure_action %q: use rollback, pause or continue", u.FailureAction)
	}
	if u.Parallelism < 0 {
		return fmt.Errorf("parallelism %d is negative", u.Parallelism)
	}
	if u.Delay < 0 || u.Monitor < 0 {
		return fmt.Errorf("delay and monitor must not be negative")
	}
	if u.MaxFailureRatio < 0 || u.MaxFailureRatio > 1 {
		return fmt.Errorf("max_failure_ratio %v is not between 0 and 1", u.MaxFailureRatio)
	}
	if why := StartFirstConflict(spec); u.Order == OrderStartFirst && why != "" {
		return fmt.Errorf("order start-first cannot work with %s", why)
	}
	return nil
}

// startFirst says whether a replacement of svc starts the new container
// before stopping the old one.
func (s *Service) startFirst() bool {
	switch s.Update.Order {
	case OrderStartFirst:
		return true
	case OrderStopFirst:
		return false
	}
	return StartFirstConflict(s.Spec) == ""
}

// StartFirstConflict says why two containers made from spec cannot run at
// once, or "": a published host port, a fixed address, a MAC address or
// the host's network can be held by one container only.
func StartFirstConflict(spec ContainerSpec) string {
	for _, p := range spec.Ports {
		if p.Published != "" {
			return fmt.Sprintf("published host port %s: the new container could not bind it while the old one runs", p.Published)
		}
	}
	for _, n := range spec.Networks {
		if n.IPv4Address != "" || n.IPv6Address != "" {
			return fmt.Sprintf("a fixed address on network %s: two containers cannot hold it", n.Name)
		}
	}
	if spec.MacAddress != "" {
		return "mac_address: two containers cannot hold one MAC address on a network"
	}
	if spec.NetworkMode == "host" {
		return "network_mode host: the new container could not bind the old one's ports"
	}
	if strings.HasPrefix(spec.NetworkMode, "service:") || strings.HasPrefix(spec.NetworkMode, "container:") {
		return fmt.Sprintf("network_mode %s: the new container would share the old one's network namespace, and its ports", spec.NetworkMode)
	}
	return ""
}

func (u UpdateConfig) batch() int {
	if u.Parallelism <= 0 {
		return 1
	}
	return u.Parallelism
}

func (u UpdateConfig) failureAction() string {
	if u.FailureAction == "" {
		return FailureRollback
	}
	return u.FailureAction
}
