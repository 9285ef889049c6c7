package swarm

import (
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/swarm"
)

// deploy maps the service's deploy: section, and restart: when deploy
// sets no restart_policy, as docker stack deploy does.
func (m serviceMapper) deploy(s *types.ServiceConfig, spec *swarm.ServiceSpec, e *errs) {
	dp := s.Deploy
	if dp == nil {
		dp = &types.DeployConfig{}
	}
	e.refuse("deploy.", *dp, deployFields)
	replicas := uint64(1)
	if dp.Replicas != nil {
		if *dp.Replicas < 0 {
			e.add("deploy.replicas %d is negative", *dp.Replicas)
		}
		replicas = uint64(max(*dp.Replicas, 0))
	}
	switch dp.Mode {
	case "", "replicated":
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &replicas}
	case "global":
		if dp.Replicas != nil {
			e.add("deploy.replicas is set with deploy.mode global, which runs one task per node")
		}
		spec.Mode.Global = &swarm.GlobalService{}
	default:
		e.add("deploy.mode %q is not one of replicated, global", dp.Mode)
	}
	for k, v := range dp.Labels {
		spec.Labels[k] = v
	}
	hostPorts := false
	if spec.EndpointSpec != nil {
		for _, p := range spec.EndpointSpec.Ports {
			hostPorts = hostPorts || p.PublishMode == swarm.PortConfigPublishModeHost
		}
	}
	spec.UpdateConfig = m.updateConfig("deploy.update_config.", dp.UpdateConfig, swarm.UpdateFailureActionRollback, hostPorts, e)
	spec.RollbackConfig = m.updateConfig("deploy.rollback_config.", dp.RollbackConfig, swarm.UpdateFailureActionPause, hostPorts, e)
	tt := &spec.TaskTemplate
	e.refuse("deploy.resources.", dp.Resources, resourcesFields)
	if l, r := dp.Resources.Limits, dp.Resources.Reservations; l != nil || r != nil {
		tt.Resources = &swarm.ResourceRequirements{}
		if l != nil {
			e.refuse("deploy.resources.limits.", *l, limitFields)
			tt.Resources.Limits = &swarm.Limit{NanoCPUs: int64(float64(l.NanoCPUs) * 1e9), MemoryBytes: int64(l.MemoryBytes), Pids: l.Pids}
		}
		if r != nil {
			e.refuse("deploy.resources.reservations.", *r, reservationFields)
			tt.Resources.Reservations = &swarm.Resources{NanoCPUs: int64(float64(r.NanoCPUs) * 1e9), MemoryBytes: int64(r.MemoryBytes)}
		}
	}
	tt.RestartPolicy = restartPolicy(s, dp, e)
	pl := dp.Placement
	e.refuse("deploy.placement.", pl, placementFields)
	if len(pl.Constraints) > 0 || len(pl.Preferences) > 0 || pl.MaxReplicas > 0 {
		tt.Placement = &swarm.Placement{Constraints: pl.Constraints, MaxReplicas: pl.MaxReplicas}
		for _, p := range pl.Preferences {
			if p.Spread == "" {
				e.add("deploy.placement.preferences: an entry without spread")
				continue
			}
			tt.Placement.Preferences = append(tt.Placement.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: p.Spread}})
		}
	}
}

// updateConfig maps update_config or rollback_config onto moor's
// defaults: one task at a time, the new one started first (stop first
// when a port is published in host mode, which two tasks cannot share),
// failures watched for 5s.
func (m serviceMapper) updateConfig(at string, uc *types.UpdateConfig, failure swarm.FailureAction, hostPorts bool, e *errs) *swarm.UpdateConfig {
	out := &swarm.UpdateConfig{Parallelism: 1, FailureAction: failure, Monitor: defaultMonitor, Order: swarm.UpdateOrderStartFirst}
	if hostPorts {
		out.Order = swarm.UpdateOrderStopFirst
	}
	if uc == nil {
		return out
	}
	e.refuse(at, *uc, updateFields)
	if uc.Parallelism != nil {
		out.Parallelism = *uc.Parallelism
	}
	out.Delay = time.Duration(uc.Delay)
	if uc.Monitor != 0 {
		out.Monitor = time.Duration(uc.Monitor)
	}
	out.MaxFailureRatio = uc.MaxFailureRatio
	switch uc.FailureAction {
	case "":
	case "pause", "continue", "rollback":
		out.FailureAction = swarm.FailureAction(uc.FailureAction)
	default:
		e.add("%sfailure_action %q is not one of pause, continue, rollback", at, uc.FailureAction)
	}
	switch uc.Order {
	case "":
	case "start-first", "stop-first":
		out.Order = swarm.UpdateOrder(uc.Order)
	default:
		e.add("%sorder %q is not one of start-first, stop-first", at, uc.Order)
	}
	return out
}

func restartPolicy(s *types.ServiceConfig, dp *types.DeployConfig, e *errs) *swarm.RestartPolicy {
	rp := dp.RestartPolicy
	if rp == nil {
		switch s.Restart {
		case "":
			return nil // Swarm's default: any
		case "no":
			return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}
		case "always", "unless-stopped":
			return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny}
		case "on-failure":
			return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure}
		default:
			e.add("restart %q: use deploy.restart_policy (condition, max_attempts)", s.Restart)
			return nil
		}
	}
	e.refuse("deploy.restart_policy.", *rp, restartPolicyFields)
	out := &swarm.RestartPolicy{MaxAttempts: rp.MaxAttempts}
	switch rp.Condition {
	case "":
	case "none", "on-failure", "any":
		out.Condition = swarm.RestartPolicyCondition(rp.Condition)
	default:
		e.add("deploy.restart_policy.condition %q is not one of none, on-failure, any", rp.Condition)
	}
	if rp.Delay != nil {
		d := time.Duration(*rp.Delay)
		out.Delay = &d
	}
	if rp.Window != nil {
		w := time.Duration(*rp.Window)
		out.Window = &w
	}
	return out
}
