package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
)

// serviceGroup is the container ops of one service, run in plan order.
type serviceGroup struct {
	stack, service string
	idx            []int
	done           chan struct{}
	err            error // set before done is closed
}

// services runs the container ops at idx: one goroutine per service, all
// at once, dependents after their dependencies. Only the engine calls of
// their steps are bounded (Parallel): a service that waits, for a
// dependency, a health gate or a monitor period, holds no slot.
func (r *applyRun) services(ctx context.Context, idx []int) {
	groups := map[string]*serviceGroup{}
	var order []*serviceGroup
	for _, i := range idx {
		op := r.results[i].Op
		key := ServiceKey(op.Stack, op.Service)
		g := groups[key]
		if g == nil {
			g = &serviceGroup{stack: op.Stack, service: op.Service, done: make(chan struct{})}
			groups[key] = g
			order = append(order, g)
		}
		g.idx = append(g.idx, i)
	}
	var wg sync.WaitGroup
	for _, g := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(g.done)
			g.err = r.serviceGroup(ctx, g, groups)
		}()
	}
	wg.Wait()
}

// serviceGroup runs one service's ops in order. Once one fails, the rest
// are skipped, but removes: they only take away what the revision does not
// want. The replace ops of the service are one rollout.
func (r *applyRun) serviceGroup(ctx context.Context, g *serviceGroup, groups map[string]*serviceGroup) error {
	blocked := r.waitDependencies(ctx, g, groups)
	if blocked == nil {
		blocked = ctx.Err() // cancelled: nothing more is started
	}
	var firstErr error
	for k := 0; k < len(g.idx); k++ {
		i := g.idx[k]
		start := r.e.Clock.Now()
		op := r.results[i].Op
		var err error
		switch {
		case op.Kind == OpRemove:
			err = r.runOp(ctx, op, nil)
		case blocked != nil:
			err = fmt.Errorf("%w: %w", ErrSkipped, blocked)
		case firstErr != nil:
			err = skipped("an earlier op of %s failed: %v", op.Service, firstErr)
		default:
			err = r.unmet(i)
		}
		if err == nil && op.Kind == OpReplace {
			end := k
			for end < len(g.idx) && r.results[g.idx[end]].Op.Kind == OpReplace {
				end++
			}
			firstErr = r.rollout(ctx, g.idx[k:end])
			k = end - 1
			continue
		}
		if err == nil && op.Kind != OpRemove {
			err = r.runOp(ctx, op, nil)
		}
		r.record(i, start, err)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// waitDependencies waits until every dependency the group's ops wait for
// is done in this plan and meets its depends_on condition. It returns why
// the service must not go on, or nil.
func (r *applyRun) waitDependencies(ctx context.Context, g *serviceGroup, groups map[string]*serviceGroup) error {
	seen := map[string]bool{}
	for _, i := range g.idx {
		for _, w := range r.results[i].Op.Waits {
			key := ServiceKey(cmp.Or(w.Stack, g.stack), w.Service)
			if seen[key] {
				continue
			}
			seen[key] = true
			if err := r.waitDependency(ctx, g.stack, w, groups); err != nil && w.Required {
				return err
			}
		}
	}
	return nil
}

func (r *applyRun) waitDependency(ctx context.Context, stack string, w Wait, groups map[string]*serviceGroup) error {
	if w.Stack != "" {
		return r.waitStack(ctx, w, groups)
	}
	if dg := groups[ServiceKey(stack, w.Service)]; dg != nil {
		select {
		case <-dg.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		var je *JobError
		if errors.As(dg.err, &je) {
			return fmt.Errorf("waits for %w", je)
		}
		if dg.err != nil {
			return fmt.Errorf("dependency %s failed", w.Service)
		}
	}
	for _, name := range w.Containers {
		if err := r.e.waitCondition(ctx, name, w.Condition); err != nil {
			return fmt.Errorf("dependency %s: condition %s: %w", w.Service, w.Condition, err)
		}
	}
	return nil
}

func skipped(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrSkipped, fmt.Sprintf(format, a...))
}
