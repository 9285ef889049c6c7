package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/swarm"
)

// swarmSource reports whether the source deploys to a swarm
// (runtime: swarm): its pipeline is swarmPass and swarmApply, which share
// resolve, trust, holds, failures, ledger and status with the single-host
// one, and plan and apply through package swarm.
func (c *Controller) swarmSource() bool { return c.Source.Runtime == config.RuntimeSwarm }

// swarmPass is passChecked for a swarm source: resolve, trust, load for
// Swarm, the constraints of the controller's records and holds, check
// that the engine is a manager, observe the swarm, plan.
func (c *Controller) swarmPass(ctx context.Context, check bool) (*Outcome, *swarm.Desired, error) {
	if c.identityErr != nil {
		return nil, nil, fault.Mark(fault.ErrRefused, c.identityErr)
	}
	if c.Swarm == nil {
		return nil, nil, fault.Mark(fault.ErrRefused, fmt.Errorf("source %s: runtime swarm: no swarm engine", c.Source.Name))
	}
	c.clock.start()
	snap, err := c.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := &Outcome{Snapshot: snap}
	defer func() { out.Stages = c.clock.stages }()
	if out.Notes, err = c.trust(ctx, snap); err != nil {
		return out, nil, err
	}
	c.clock.mark("trust")
	// An unchanged revision is not loaded again: loading is most of a
	// quiet poll's cost.
	sd := c.swarmLast.desired
	if c.WorkDir != "" || sd == nil || sd.Revision != snap.Revision.String() {
		if sd, err = c.loadSwarm(ctx, snap); err != nil {
			c.clock.mark("load")
			return out, nil, err
		}
		c.swarmLast = swarmRun{desired: sd}
	}
	c.clock.mark("load")
	out.Desired = sd.View()
	if !check && c.quiet(out) {
		out.Quiet = true
		return out, sd, nil
	}
	out.Constraints = c.constraints(out.Desired, time.Now())
	opens, err := c.holds(out, c.now())
	if err != nil {
		return out, sd, err
	}
	if c.retry.Swap(false) {
		out.Constraints.Explicit = true
		out.Constraints.Held = nil
	}
	c.clock.mark("records")
	if err := c.Swarm.CheckManager(ctx); err != nil {
		return out, sd, err
	}
	obs, err := c.Swarm.Observe(ctx)
	if err != nil {
		return out, sd, err
	}
	c.swarmLast = swarmRun{sd, obs}
	out.Observed = &reconcile.Observed{}
	c.drift.lastCheck = time.Now()
	c.clock.mark("observe")
	out.Plan = c.swarmPlan(sd, obs, out.Constraints)
	if len(out.Plan.Waiting) > 0 && out.Constraints.Window != "" {
		out.WindowOpens = opens
	}
	c.clock.mark("plan")
	return out, sd, nil
}

// swarmPlan is swarm.MakePlan with the constraints of the source: under
// drift: report, a revision already applied only reports its ops; the
// ops of a suspended stack, or all of them in a closed deploy window,
// wait.
func (c *Controller) swarmPlan(sd *swarm.Desired, obs *swarm.Observed, cons reconcile.Constraints) *reconcile.Plan {
	held := cons.Held
	if cons.Explicit {
		held = nil // an operator's apply retries a held service now
	}
	p := swarm.MakePlan(sd, obs, held)
	if cons.ReportDrift && !cons.Explicit {
		// drift: report, at the revision the swarm was converged to: what
		// the plan would do repairs changes made by hand, reported only.
		p.Drift, p.Ops = p.Ops, nil
	}
	if len(cons.Suspended) == 0 && cons.Window == "" {
		return p
	}
	ops := p.Ops
	p.Ops, p.Waits = nil, map[string]string{}
	for _, op := range ops {
		why := cons.Window
		if w := cons.Suspended[op.Stack]; w != "" {
			why = w
		} else if w := cons.Suspended[""]; w != "" {
			why = w
		}
		if why == "" {
			p.Ops = append(p.Ops, op)
			continue
		}
		p.Waiting = append(p.Waiting, op)
		p.Waits[op.Stack] = why
	}
	return p
}

// swarmApply is apply for a swarm source: the pass, then the plan carried
// out by the swarm engine, then the swarm observed again. A service whose
// update Swarm rolled back, or whose tasks did not settle on the new spec,
// fails its op and is held with backoff as a failed rollout on one host
// is; the next commit or `moor apply` tries again.
func (c *Controller) swarmApply(ctx context.Context, check bool) (*Outcome, error) {
	out, sd, err := c.swarmPass(ctx, check)
	if err == nil && out.Quiet {
		return out, nil
	}
	c.drift.settled = ""
	if err != nil {
		return out, err
	}
	if !out.Plan.Empty() {
		end := c.beginRollout(out)
		c.Swarm.Log = c.Log.With(zap.String("revision", sd.Revision))
		out.Result = c.Swarm.Apply(ctx, sd, out.Plan)
		end()
		c.clock.mark("apply")
	}
	obs, err := c.Swarm.Observe(ctx)
	if err != nil {
		return out, err
	}
	c.swarmLast = swarmRun{sd, obs}
	c.clock.mark("verify")
	out.Remaining = c.swarmPlan(sd, obs, out.Constraints)
	if c.WorkDir == "" {
		c.noteFailures(out.Desired, out.Result, out.Remaining, time.Now())
		c.noteRan(out.Desired, out.Result, out.Remaining, time.Now())
		// A swarm keeps no files of a revision: only the current
		// snapshot is kept.
		c.pruneSnapshots(&reconcile.Observed{}, out.Snapshot)
	}
	err = outcomeError(out)
	c.settle(out, err)
	return out, err
}

// loadSwarm loads the snapshot's stacks for Swarm and maps them. A
// missing path, or no stacks at all (unless allowed), refuses the
// revision, as on one host.
func (c *Controller) loadSwarm(ctx context.Context, snap *gitsource.Snapshot) (*swarm.Desired, error) {
	root, rev, err := c.sourceRoot(snap)
	if err != nil {
		return nil, err
	}
	sec, err := c.composeSecrets()
	if err != nil {
		return nil, err
	}
	var stacks map[string]*compose.SwarmStack
	var broken map[string]error
	err = c.timedLoad(ctx, rev, func(ctx context.Context) (err error) {
		stacks, broken, err = compose.LoadSwarm(ctx, root, compose.Options{
			Repo: snap.Dir, Variables: c.Source.Variables, Profiles: c.Source.Profiles,
			Limits: compose.Limits{Replicas: c.Source.MaxReplicas}, Secrets: sec, Host: c.composeHost(),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	d := swarm.Map(stacks, broken, c.Source.Name, c.identity.ID, rev)
	d.PruneVolumes = c.Source.PruneVolumes
	if err := c.refuseEmpty(rev, len(d.Stacks)+len(d.Broken), "swarm"); err != nil {
		return nil, err
	}
	return d, nil
}

// swarmRun is what a swarm source's last run wanted and observed.
type swarmRun struct {
	desired  *swarm.Desired
	observed *swarm.Observed
}

// swarmReport is updateReport for a swarm source: each service the
// revision wants or the swarm runs, in the state the remaining plan finds
// it in, with its running tasks counted as its replicas up.
func (c *Controller) swarmReport(r *SourceReport, out *Outcome) {
	last := c.swarmLast
	if out == nil || out.Desired == nil || last.observed == nil {
		if prev := c.Report(); prev != nil {
			r.Services, r.plan = prev.Services, prev.plan
		}
		c.mu.Lock()
		c.report = r
		c.mu.Unlock()
		return
	}
	// Made as the next run makes its plan: the failures this run noted
	// hold their services back.
	p := c.swarmPlan(last.desired, last.observed, c.constraints(out.Desired, time.Now()))
	r.plan = p
	ops := p.ServiceOps()
	byKey := map[string]*ServiceReport{}
	out.Desired.EachService(func(stack string, svc *reconcile.Service) {
		byKey[reconcile.ServiceKey(stack, svc.Name)] = &ServiceReport{Stack: stack, Service: svc.Name, Replicas: svc.Replicas}
	})
	for _, s := range last.observed.Services {
		if s.Owner.Source != c.Source.Name || s.Owner.Owner != out.Desired.Owner {
			continue
		}
		svc := s.Spec.Labels[reconcile.LabelService]
		key := reconcile.ServiceKey(s.Owner.Stack, svc)
		sr := byKey[key]
		if sr == nil {
			sr = &ServiceReport{Stack: s.Owner.Stack, Service: svc}
			byKey[key] = sr
		}
		sr.Up = s.Running
		sr.Containers = append(sr.Containers, ContainerReport{Name: s.Name(), ID: reconcile.ShortID(s.ID),
			State: fmt.Sprintf("%d/%d tasks running", s.Running, s.Desired), Image: s.Spec.TaskTemplate.ContainerSpec.Image,
			Revision: s.Spec.Labels[reconcile.LabelRevision], InSync: len(ops[key]) == 0})
	}
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		sr := byKey[key]
		switch {
		case p.Held[key] != "":
			sr.State, sr.Reason = StateDegraded, p.Held[key]
		case p.Broken[sr.Stack] != "":
			sr.State, sr.Reason = StateBroken, p.Broken[sr.Stack]
		case p.Conflicts[sr.Stack] != "":
			sr.State, sr.Reason = StateConflict, p.Conflicts[sr.Stack]
		case len(ops[key]) > 0:
			op := ops[key][0]
			sr.State, sr.Reason = StateDrifted, op.String()
			switch op.Kind {
			case reconcile.OpCreateService:
				sr.State = StateMissing
			case reconcile.OpRemoveService:
				sr.State = StateRemoved
			}
		default:
			sr.State = StateInSync
		}
		r.Services = append(r.Services, *sr)
	}
	c.mu.Lock()
	c.report = r
	c.mu.Unlock()
	if c.WorkDir == "" {
		if err := writeSwarmServices(c.StateDir, c.Source.Name, r.Services); err != nil {
			c.Log.Warn("record the swarm services for moor status", zap.Error(err))
		}
	}
}

// swarmServicesPath holds the services of a swarm source as its last run
// saw them: `moor status`, a process of its own, shows them from there
// (a single host's are observed afresh from the engine instead).
func swarmServicesPath(stateDir, source string) string {
	return filepath.Join(stateDir, "sources", source, "swarm-services.json")
}

func writeSwarmServices(stateDir, source string, services []ServiceReport) error {
	if services == nil {
		services = []ServiceReport{}
	}
	b, err := json.MarshalIndent(services, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(swarmServicesPath(stateDir, source), b, false)
}

// readSwarmServices returns the services a swarm source's last run
// recorded, or nil when it recorded none (not a swarm source).
func readSwarmServices(stateDir, source string) ([]ServiceReport, error) {
	b, err := os.ReadFile(swarmServicesPath(stateDir, source))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var services []ServiceReport
	if err := json.Unmarshal(b, &services); err != nil {
		return nil, fmt.Errorf("%s: %w", swarmServicesPath(stateDir, source), err)
	}
	return services, nil
}
