package reconcile

import (
	"context"
	"errors"
	"fmt"
)

// waitJob waits until the job's container id exits (StepWaitJob). An exit
// with code 0 is success; any other code is a *JobError with the
// container's last output. A container that does not exit within
// JobTimeout is stopped, and that is a *JobError too; one still running
// when the apply is cancelled (moor stops) is left to run, and the next
// apply waits for it.
func (r *applyRun) waitJob(ctx context.Context, id string, s Step) error {
	if id == "" {
		return fmt.Errorf("%s: no container was created", s)
	}
	je := &JobError{Stack: s.Stack, Service: s.Service, Container: s.Name, ExitCode: -1}
	e := *r.e
	e.ReadyTimeout = e.JobTimeout
	err := e.waitFor(ctx, id, func(c Container) (bool, error) {
		if c.State != StateExited && c.State != StateDead {
			return false, nil
		}
		je.ExitCode = c.ExitCode
		return true, nil
	})
	switch {
	case err != nil && ctx.Err() != nil:
		je.Err = fmt.Errorf("waiting for it to exit: %w", err)
	case err != nil:
		// What did not finish in time does not go on behind the rollout's
		// back: its dependents would not wait for it on the next run.
		if serr := r.e.Runtime.StopContainer(ctx, id, nil); serr != nil && !errors.Is(serr, ErrNotFound) {
			je.Err = fmt.Errorf("waiting for it to exit: %w; stopping it failed: %w", err, serr)
		} else {
			je.Err = fmt.Errorf("waiting for it to exit: %w; stopped", err)
		}
	case je.ExitCode == 0:
		return nil
	}
	je.Output = r.jobLogs(ctx, id)
	return je
}

// jobLogs is the tail of the job container's output a JobError quotes;
// "" when the engine cannot say.
func (r *applyRun) jobLogs(ctx context.Context, id string) string {
	release, err := r.e.slot(ctx)
	if err != nil {
		return ""
	}
	defer release()
	logs, err := r.e.Runtime.Logs(context.WithoutCancel(ctx), id, JobOutputLines)
	if err != nil {
		return ""
	}
	return jobOutput(logs)
}

// asJobError makes the error of a step of a run-job op a *JobError, that
// its dependents are skipped with: the job could not be created or
// started.
func asJobError(op Op, s Step, err error) error {
	var je *JobError
	if op.Kind != OpRunJob || errors.As(err, &je) {
		return err
	}
	return &JobError{Stack: op.Stack, Service: op.Service, Container: s.Name, ExitCode: -1, Err: err}
}
