package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// rollout carries out the replace ops of one service at idx, as their
// Rollout says: batch after batch, Delay between two, the replicas of a
// batch at once. A replica whose new container does not come up has its
// steps undone (runOp does that). Once more than MaxFailures replicas
// failed, FailureAction says what becomes of the rest: rollback undoes
// every replica the rollout replaced, pause stops, continue goes on. When
// the rollout ends without rolling back, the deferred steps of the
// replaced replicas (the removal of their old containers) run.
func (r *applyRun) rollout(ctx context.Context, idx []int) error {
	ro := *r.results[idx[0]].Op.Rollout
	var (
		replaced []*opRun
		failed   int
		firstErr error
	)
	for b := 0; b < len(idx); {
		batch := r.batch(idx[b:])
		if b > 0 && ro.Delay > 0 {
			if err := r.sleep(ctx, ro.Delay); err != nil {
				r.skip(idx[b:], fmt.Errorf("rollout of %s interrupted: %w", r.results[idx[0]].Op.Service, err))
				return err
			}
		}
		runs := make([]*opRun, len(batch))
		errs := make([]error, len(batch))
		starts := make([]time.Time, len(batch))
		var wg sync.WaitGroup
		for j, i := range batch {
			runs[j] = &opRun{op: r.results[i].Op}
			wg.Add(1)
			go func() {
				defer wg.Done()
				starts[j] = r.e.Clock.Now()
				errs[j] = r.runOp(ctx, runs[j].op, runs[j])
			}()
		}
		wg.Wait()
		for j, i := range batch {
			r.record(i, starts[j], errs[j])
			if errs[j] != nil {
				failed++
				firstErr = cmpErr(firstErr, errs[j])
			} else {
				replaced = append(replaced, runs[j])
			}
		}
		b += len(batch)
		if failed <= ro.MaxFailures || ro.FailureAction == FailureContinue {
			continue
		}
		why := fmt.Errorf("%d of %d replicas of %s failed (failure_action %s): %w", failed, ro.Replicas, r.results[idx[0]].Op.Service, ro.FailureAction, firstErr)
		r.skip(idx[b:], fmt.Errorf("rollout stopped: %w", why))
		if ro.FailureAction == FailureRollback {
			r.rollback(ctx, replaced, why)
			return why
		}
		break // pause: the replaced replicas keep the new version
	}
	for _, run := range replaced {
		if err := r.runDeferred(ctx, run); err != nil {
			r.fail(run.op, err)
			firstErr = cmpErr(firstErr, err)
		}
	}
	return firstErr
}

// batch returns the ops at the head of idx that share the first one's batch.
func (r *applyRun) batch(idx []int) []int {
	n := r.results[idx[0]].Op.Rollout.Batch
	end := 1
	for end < len(idx) && r.results[idx[end]].Op.Rollout.Batch == n {
		end++
	}
	return idx[:end]
}

// rollback undoes the replicas this rollout replaced, last first, and marks
// their ops as rolled back.
func (r *applyRun) rollback(ctx context.Context, runs []*opRun, why error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.e.ReadyTimeout+time.Minute)
	defer cancel()
	for k := len(runs) - 1; k >= 0; k-- {
		run := runs[k]
		_, errs := r.undoSteps(ctx, run)
		err := fmt.Errorf("rolled back, old container restored: %w", why)
		if len(errs) > 0 {
			err = fmt.Errorf("rolling back after %w: restoring the old container failed: %w", why, errors.Join(errs...))
		}
		r.fail(run.op, err)
		r.mu.Lock()
		for i := range r.results {
			if r.results[i].Op.Resource == run.op.Resource && r.results[i].Op.Kind == OpReplace {
				r.results[i].RolledBack = true
			}
		}
		r.mu.Unlock()
	}
}

// fail replaces the result of op, which already ran, with err.
func (r *applyRun) fail(op Op, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.results {
		if r.results[i].Op.Resource == op.Resource && r.results[i].Op.Kind == op.Kind {
			r.results[i].Err = err
		}
	}
}

// skip records the ops at idx as not attempted.
func (r *applyRun) skip(idx []int, why error) {
	for _, i := range idx {
		r.record(i, r.e.Clock.Now(), fmt.Errorf("%w: %w", ErrSkipped, why))
	}
}

// sleep waits for d on the executor's clock, or until ctx is done.
func (r *applyRun) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-r.e.Clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cmpErr keeps the first error.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
