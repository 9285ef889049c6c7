package reconcile

import (
	"context"
	"fmt"
	"time"
)

// waitReady waits until a started container counts as up, as rd says:
// healthy when it has a healthcheck, otherwise running (or, for a job,
// exited 0), and running for rd.Monitor without a restart. who names the
// container in errors.
func (e *Executor) waitReady(ctx context.Context, id, who string, rd Ready) error {
	var runningSince time.Time
	restarts := -1
	return e.waitFor(ctx, id, func(c Container) (bool, error) {
		if restarts < 0 {
			restarts = c.Restarts
		}
		if c.Restarts > restarts {
			return false, fmt.Errorf("%s restarted (exit code %d)", who, c.ExitCode)
		}
		if c.State == StateExited || c.State == StateDead {
			if rd.Job && c.ExitCode == 0 {
				return true, nil
			}
			return false, fmt.Errorf("%s exited with code %d", who, c.ExitCode)
		}
		if c.State == StateRestarting {
			return false, fmt.Errorf("%s is restarting (exit code %d)", who, c.ExitCode)
		}
		if rd.Health {
			if c.Health == HealthUnhealthy {
				return false, fmt.Errorf("%s is unhealthy%s", who, healthOutput(c))
			}
			return c.Health == HealthHealthy, nil
		}
		if c.State != StateRunning {
			return false, nil
		}
		now := e.Clock.Now()
		if runningSince.IsZero() {
			runningSince = now
		}
		return now.Sub(runningSince) >= rd.Monitor, nil
	})
}

// waitCondition waits until the container named name meets a depends_on
// condition.
func (e *Executor) waitCondition(ctx context.Context, name, cond string) error {
	return e.waitFor(ctx, name, func(c Container) (bool, error) {
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
// ReadyTimeout passes on the executor's clock.
func (e *Executor) waitFor(ctx context.Context, id string, check func(Container) (bool, error)) error {
	deadline := e.Clock.Now().Add(e.ReadyTimeout)
	var last Container
	for {
		c, err := e.inspect(ctx, id)
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
		if !e.Clock.Now().Before(deadline) {
			return fmt.Errorf("%s not ready after %s (state %s, health %q)%s", nameOr(last, id), e.ReadyTimeout, last.State, last.Health, healthOutput(last))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (state %s, health %q)%s", nameOr(last, id), ctx.Err(), last.State, last.Health, healthOutput(last))
		case <-e.Clock.After(e.Poll):
		}
	}
}

// inspect inspects a container in one of the Parallel slots.
func (e *Executor) inspect(ctx context.Context, id string) (Container, error) {
	release, err := e.slot(ctx)
	if err != nil {
		return Container{}, err
	}
	defer release()
	return e.Runtime.InspectContainer(ctx, id)
}

func nameOr(c Container, id string) string {
	if c.Name != "" {
		return c.Name
	}
	return id
}

// healthOutput quotes the last health probe's output for an error.
func healthOutput(c Container) string {
	if c.HealthOutput == "" {
		return ""
	}
	return " (" + quoteOutput("health check said: ", c.HealthOutput, 200) + ")"
}
