package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// rollout replaces the replicas of one service (the replace ops at idx) as
// its UpdateConfig says: Parallelism replicas at a time, Delay between
// batches. A replica whose new container does not come up always gets its
// old container back (replace does that); once more replicas failed than
// MaxFailureRatio allows, FailureAction decides what becomes of the rest.
//
// Under FailureRollback with more than one replica, every replaced replica's
// old container is kept (stopped, named -retired) until the whole rollout
// succeeds, so that rolling back is a rename and a start, not a re-creation.
func (r *applyRun) rollout(ctx context.Context, svc *Service, idx []int) error {
	u := svc.Update
	action := u.failureAction()
	keep := action == FailureRollback && len(idx) > 1
	var (
		replaced []int // ops whose replica now runs the new container
		failed   int
		firstErr error
	)
	for b := 0; b < len(idx); b += u.batch() {
		if b > 0 && u.Delay > 0 {
			if err := sleep(ctx, u.Delay); err != nil {
				r.skip(idx[b:], fmt.Errorf("rollout of %s interrupted: %w", svc.Name, err))
				return err
			}
		}
		batch := idx[b:min(b+u.batch(), len(idx))]
		errs := make([]error, len(batch))
		starts := make([]time.Time, len(batch))
		var wg sync.WaitGroup
		for j, i := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				starts[j] = time.Now()
				errs[j] = r.replace(ctx, r.results[i].Op, svc, keep)
			}()
		}
		wg.Wait()
		for j, i := range batch {
			r.record(i, starts[j], errs[j])
			if errs[j] != nil {
				failed++
				if firstErr == nil {
					firstErr = errs[j]
				}
			} else {
				replaced = append(replaced, i)
			}
		}
		if failed == 0 || float64(failed)/float64(len(idx)) <= u.MaxFailureRatio || action == FailureContinue {
			continue
		}
		why := fmt.Errorf("%d of %d replicas of %s failed (failure_action %s): %v", failed, len(idx), svc.Name, action, firstErr)
		r.skip(idx[b+len(batch):], fmt.Errorf("rollout stopped: %w", why))
		if action == FailureRollback {
			r.rollback(ctx, svc, replaced, why)
			return why
		}
		break // pause: the replaced replicas keep the new version
	}
	if keep {
		for _, i := range replaced {
			op := r.results[i].Op
			if err := r.e.Runtime.RemoveContainer(ctx, op.Container.ID); err != nil && !errors.Is(err, ErrNotFound) {
				r.results[i].Err = fmt.Errorf("remove old container: %w", err)
				if firstErr == nil {
					firstErr = r.results[i].Err
				}
				continue
			}
			r.step("replace/removed-old")
		}
	}
	return firstErr
}

// rollback gives the replicas at idx, which this rollout replaced, their
// old containers back, and marks their ops as rolled back.
func (r *applyRun) rollback(ctx context.Context, svc *Service, idx []int, why error) {
	// Undo with a context of its own: a cancelled apply must still put the
	// old containers back.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.e.ReadyTimeout+time.Minute)
	defer cancel()
	for k := len(idx) - 1; k >= 0; k-- {
		i := idx[k]
		err := r.restore(ctx, r.results[i].Op, svc)
		if err != nil {
			r.results[i].Err = fmt.Errorf("rolling back after %v: restoring the old container failed: %w", why, err)
		} else {
			r.results[i].Err = fmt.Errorf("rolled back, old container restored: %w", why)
		}
		r.e.Log.Warn("rolled back replica: " + r.results[i].Op.Resource)
	}
}

// skip records the ops at idx as not attempted.
func (r *applyRun) skip(idx []int, why error) {
	for _, i := range idx {
		r.record(i, time.Now(), fmt.Errorf("%w: %v", ErrSkipped, why))
	}
}

// sleep waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
