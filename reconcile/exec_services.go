package reconcile

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// serviceGroup is the container ops of one service, run in order.
type serviceGroup struct {
	stack, service string
	idx            []int
	done           chan struct{}
	err            error // set before done is closed
}

// services runs every container op: one goroutine per service, dependents
// after their dependencies, at most Parallel services at once.
func (r *applyRun) services(ctx context.Context, p *Plan) {
	groups := map[string]*serviceGroup{}
	var order []*serviceGroup
	for i, op := range p.Ops {
		switch op.Kind {
		case OpRestore, OpCreate, OpReplace, OpStart, OpRemove:
		default:
			continue
		}
		key := op.Stack + "/" + op.Service
		g := groups[key]
		if g == nil {
			g = &serviceGroup{stack: op.Stack, service: op.Service, done: make(chan struct{})}
			groups[key] = g
			order = append(order, g)
		}
		g.idx = append(g.idx, i)
	}
	sem := make(chan struct{}, r.e.Parallel)
	var wg sync.WaitGroup
	for _, g := range order {
		wg.Add(1)
		go func(g *serviceGroup) {
			defer wg.Done()
			defer close(g.done)
			g.err = r.serviceGroup(ctx, g, groups, sem)
		}(g)
	}
	wg.Wait()
}

func (r *applyRun) serviceGroup(ctx context.Context, g *serviceGroup, groups map[string]*serviceGroup, sem chan struct{}) error {
	svc := r.desiredService(g.stack, g.service)
	if svc != nil && !svc.startFirst() {
		// A container of a service that publishes a host port holds it: a
		// stray one (renamed by hand, a duplicate) must go before a new
		// replica can start.
		g.idx = removesFirst(r.results, g.idx)
	}
	blocked := r.waitDependencies(ctx, g, svc, groups)
	if blocked == nil {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		case <-ctx.Done():
			blocked = ctx.Err()
		}
	}
	var firstErr error
	for k := 0; k < len(g.idx); k++ {
		i := g.idx[k]
		start := time.Now()
		op := r.results[i].Op
		if op.Kind == OpReplace && svc != nil && blocked == nil && firstErr == nil {
			// The replacements of a service are one rollout, in batches.
			end := k
			for end < len(g.idx) && r.results[g.idx[end]].Op.Kind == OpReplace {
				end++
			}
			firstErr = r.rollout(ctx, svc, g.idx[k:end])
			k = end - 1
			continue
		}
		var err error
		switch {
		case blocked != nil && op.Kind != OpRemove:
			err = fmt.Errorf("%w: %v", ErrSkipped, blocked)
		case firstErr != nil && op.Kind != OpRemove:
			err = fmt.Errorf("%w: an earlier replica failed: %v", ErrSkipped, firstErr)
		default:
			err = r.containerOp(ctx, op, svc)
		}
		r.record(i, start, err)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// removesFirst moves the remove ops among idx ahead of the others, keeping
// each group's order.
func removesFirst(results []OpResult, idx []int) []int {
	out := make([]int, 0, len(idx))
	for _, i := range idx {
		if results[i].Op.Kind == OpRemove {
			out = append(out, i)
		}
	}
	for _, i := range idx {
		if results[i].Op.Kind != OpRemove {
			out = append(out, i)
		}
	}
	return out
}

func (r *applyRun) desiredService(stack, service string) *Service {
	if st, ok := r.d.Stacks[stack]; ok {
		return st.Services[service]
	}
	return nil
}

// waitDependencies waits until every dependency of svc that changes in this
// plan is done and meets its depends_on condition. It returns why the
// service must not go on, or nil.
func (r *applyRun) waitDependencies(ctx context.Context, g *serviceGroup, svc *Service, groups map[string]*serviceGroup) error {
	r.mu.Lock()
	stackErr := r.failedStacks[g.stack]
	r.mu.Unlock()
	if stackErr != nil {
		return stackErr
	}
	if svc == nil {
		return nil
	}
	if err := r.failedImages[svc.Spec.Image]; err != nil {
		return fmt.Errorf("image %s: %w", svc.Spec.Image, err)
	}
	for _, name := range sortedKeys(svc.DependsOn) {
		dep := svc.DependsOn[name]
		dg := groups[g.stack+"/"+name]
		if dg == nil {
			continue // unchanged: it runs as it ran
		}
		select {
		case <-dg.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if dg.err != nil {
			if dep.Required {
				return fmt.Errorf("dependency %s failed", name)
			}
			continue
		}
		depSvc := r.desiredService(g.stack, name)
		if depSvc == nil {
			continue
		}
		if err := r.waitCondition(ctx, g.stack, depSvc, dep.Condition); err != nil {
			if dep.Required {
				return fmt.Errorf("dependency %s: %w", name, err)
			}
		}
	}
	return nil
}

// waitCondition waits until every replica of svc meets a depends_on condition.
func (r *applyRun) waitCondition(ctx context.Context, stack string, svc *Service, cond string) error {
	for n := 1; n <= svc.Replicas; n++ {
		name := ContainerName(stack, svc.Name, n)
		err := r.e.waitFor(ctx, name, func(c Container) (bool, error) {
			switch cond {
			case ConditionHealthy:
				if c.Health == HealthUnhealthy {
					return false, fmt.Errorf("%s is unhealthy", name)
				}
				return c.Health == HealthHealthy, exitedErr(c, false)
			case ConditionCompleted:
				if c.State == StateExited {
					if c.ExitCode != 0 {
						return false, fmt.Errorf("%s exited with code %d", name, c.ExitCode)
					}
					return true, nil
				}
				return false, nil
			default:
				return c.Running() || (c.State == StateExited && c.ExitCode == 0), exitedErr(c, true)
			}
		})
		if err != nil {
			return fmt.Errorf("condition %s: %w", cond, err)
		}
	}
	return nil
}

// exitedErr fails a wait on a container that exited (with a non-zero code,
// or at all when ok0 is false).
func exitedErr(c Container, ok0 bool) error {
	if c.State == StateExited || c.State == StateDead {
		if ok0 && c.ExitCode == 0 {
			return nil
		}
		return fmt.Errorf("%s exited with code %d", c.Name, c.ExitCode)
	}
	return nil
}

// waitFor polls the container until check says done or fails, or
// ReadyTimeout passes.
func (e *Executor) waitFor(ctx context.Context, id string, check func(Container) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, e.ReadyTimeout)
	defer cancel()
	t := time.NewTicker(e.Poll)
	defer t.Stop()
	var last Container
	for {
		c, err := e.Runtime.InspectContainer(ctx, id)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil {
			last = c
			ok, err := check(c)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (state %s, health %q)%s", id, e.ReadyTimeout, last.State, last.Health, healthOutput(last))
		case <-t.C:
		}
	}
}
