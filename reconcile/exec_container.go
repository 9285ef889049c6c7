package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// containerOp carries out one container op. svc is nil for removals of
// services git no longer has.
func (r *applyRun) containerOp(ctx context.Context, op Op, svc *Service) error {
	switch op.Kind {
	case OpRemove:
		return r.remove(ctx, op.Container)
	case OpStart:
		if err := r.e.Runtime.StartContainer(ctx, op.Container.ID); err != nil {
			return err
		}
		return r.e.waitReady(ctx, op.Container.ID, svc, false)
	case OpRestore:
		return r.restore(ctx, op, svc)
	case OpCreate:
		return r.create(ctx, op, svc)
	case OpReplace:
		return r.replace(ctx, op, svc, false)
	}
	return fmt.Errorf("unknown op %s", op.Kind)
}

func (r *applyRun) remove(ctx context.Context, c *Container) error {
	if err := r.e.Runtime.StopContainer(ctx, c.ID, nil); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return r.e.Runtime.RemoveContainer(ctx, c.ID)
}

func (r *applyRun) create(ctx context.Context, op Op, svc *Service) error {
	name := ContainerName(op.Stack, svc.Name, op.Number)
	id, err := r.e.Runtime.CreateContainer(ctx, name, svc.Spec, ContainerLabels(r.d, op.Stack, svc, op.Number))
	if errors.Is(err, ErrConflict) {
		return fmt.Errorf("create %s: the name is taken by a container moor does not manage: %w", name, err)
	}
	if err != nil {
		return err
	}
	r.step("create/created")
	if err := r.e.Runtime.StartContainer(ctx, id); err != nil {
		return err
	}
	r.step("create/started")
	return r.e.waitReady(ctx, id, svc, false)
}

// restore undoes a replacement that a previous run left half done: the
// retired container takes its name back and runs again.
func (r *applyRun) restore(ctx context.Context, op Op, svc *Service) error {
	name := ContainerName(op.Stack, op.Service, op.Number)
	// A failed new container may hold the canonical name.
	if c, err := r.e.Runtime.InspectContainer(ctx, name); err == nil && c.ID != op.Container.ID {
		if err := r.remove(ctx, &c); err != nil {
			return err
		}
	}
	if err := r.e.Runtime.RenameContainer(ctx, op.Container.ID, name); err != nil {
		return err
	}
	if err := r.e.Runtime.StartContainer(ctx, op.Container.ID); err != nil {
		return err
	}
	return r.e.waitReady(ctx, op.Container.ID, svc, false)
}

// replace swaps the container of one replica for a new one. The new
// container is created before the old one is stopped; the old one is kept,
// stopped and renamed STACK-SERVICE-N-retired, until the new one is up, and
// restored if it is not (invariant 5). The service's update order says
// whether the new container starts before the old one stops (start-first,
// the default unless it publishes a host port: no downtime) or after
// (stop-first: two containers cannot bind one port). With keepOld, the old
// container is left stopped and retired for the rollout to remove or
// restore.
func (r *applyRun) replace(ctx context.Context, op Op, svc *Service, keepOld bool) error {
	old := op.Container
	name := ContainerName(op.Stack, svc.Name, op.Number)
	candidate := name + CandidateSuffix
	// A candidate an interrupted run left behind would hold the name.
	if err := r.e.Runtime.RemoveContainer(ctx, candidate); err != nil {
		return err
	}
	id, err := r.e.Runtime.CreateContainer(ctx, candidate, svc.Spec, ContainerLabels(r.d, op.Stack, svc, op.Number))
	if err != nil {
		return err
	}
	r.step("replace/created-candidate")
	startFirst := svc.startFirst()
	if startFirst {
		if err := r.e.Runtime.StartContainer(ctx, id); err != nil {
			return r.abandon(ctx, id, old, name, fmt.Errorf("start new container: %w", err))
		}
		r.step("replace/started-candidate")
		if err := r.e.waitReady(ctx, id, svc, true); err != nil {
			return r.abandon(ctx, id, old, name, err)
		}
		r.step("replace/candidate-ready")
	}
	// Only now is the new container reachable by the service's name: a
	// candidate that does not come up never gets a request.
	if err := r.e.Runtime.Expose(ctx, id, svc.Spec, svc.Name); err != nil {
		return r.abandon(ctx, id, old, name, err)
	}
	r.step("replace/exposed-candidate")
	if err := r.e.Runtime.StopContainer(ctx, old.ID, svc.Spec.StopGracePeriod); err != nil {
		return r.abandon(ctx, id, old, name, fmt.Errorf("stop old container: %w", err))
	}
	r.step("replace/stopped-old")
	if err := r.e.Runtime.RenameContainer(ctx, old.ID, name+RetiredSuffix); err != nil {
		return r.abandon(ctx, id, old, name, fmt.Errorf("retire old container: %w", err))
	}
	r.step("replace/retired-old")
	if err := r.e.Runtime.RenameContainer(ctx, id, name); err != nil {
		return r.abandon(ctx, id, old, name, fmt.Errorf("promote new container: %w", err))
	}
	r.step("replace/promoted")
	if !startFirst {
		if err := r.e.Runtime.StartContainer(ctx, id); err != nil {
			return r.abandon(ctx, id, old, name, fmt.Errorf("start new container: %w", err))
		}
		r.step("replace/started-new")
		if err := r.e.waitReady(ctx, id, svc, true); err != nil {
			return r.abandon(ctx, id, old, name, err)
		}
	}
	if keepOld {
		return nil
	}
	if err := r.e.Runtime.RemoveContainer(ctx, old.ID); err != nil {
		return fmt.Errorf("remove old container: %w", err)
	}
	r.step("replace/removed-old")
	return nil
}

// abandon removes a new container that did not come up and puts the old one
// back under its name, running. The returned error says both what failed
// and whether the old container is back.
func (r *applyRun) abandon(ctx context.Context, newID string, old *Container, name string, cause error) error {
	// Undo with a context of its own: a cancelled apply must still put the
	// old container back.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	logs, _ := r.e.Runtime.Logs(ctx, newID, 10)
	var undo []error
	if err := r.e.Runtime.RemoveContainer(ctx, newID); err != nil {
		undo = append(undo, err)
	}
	if err := r.e.Runtime.RenameContainer(ctx, old.ID, name); err != nil && !errors.Is(err, ErrConflict) {
		undo = append(undo, err)
	}
	if err := r.e.Runtime.StartContainer(ctx, old.ID); err != nil {
		undo = append(undo, err)
	}
	msg := cause.Error()
	if logs = strings.TrimSpace(logs); logs != "" {
		msg += "; last output: " + oneLine(logs, 400)
	}
	if len(undo) > 0 {
		return fmt.Errorf("%s; restoring the old container failed: %w", msg, errors.Join(undo...))
	}
	return fmt.Errorf("%s; old container restored", msg)
}

// waitReady waits until a started container counts as up: healthy when it
// has a healthcheck, otherwise running (or, for a job, exited 0) — for a
// replacement, still running after the monitor period, since an old
// container waits to take over if it does not. A created or restarted
// replica has nothing to fall back to: waiting would only slow it.
func (e *Executor) waitReady(ctx context.Context, id string, svc *Service, replacement bool) error {
	hasHealth := svc != nil && svc.Spec.Healthcheck != nil && len(svc.Spec.Healthcheck.Test) > 0 && svc.Spec.Healthcheck.Test[0] != "NONE"
	oneShot := svc != nil && svc.OneShot()
	var monitor time.Duration
	if replacement {
		monitor = e.Monitor
		if svc != nil && svc.Update.Monitor > 0 {
			monitor = svc.Update.Monitor
		}
	}
	var runningSince time.Time
	restarts := -1
	return e.waitFor(ctx, id, func(c Container) (bool, error) {
		if restarts < 0 {
			restarts = c.Restarts
		}
		if c.Restarts > restarts {
			return false, fmt.Errorf("new container restarted (exit code %d)", c.ExitCode)
		}
		if c.State == StateExited || c.State == StateDead {
			if oneShot && c.ExitCode == 0 {
				return true, nil
			}
			return false, fmt.Errorf("new container exited with code %d", c.ExitCode)
		}
		if c.State == StateRestarting {
			return false, fmt.Errorf("new container is restarting (exit code %d)", c.ExitCode)
		}
		if hasHealth {
			if c.Health == HealthUnhealthy {
				return false, fmt.Errorf("new container is unhealthy%s", healthOutput(c))
			}
			return c.Health == HealthHealthy, nil
		}
		if c.State != StateRunning {
			return false, nil
		}
		if runningSince.IsZero() {
			runningSince = time.Now()
		}
		return time.Since(runningSince) >= monitor, nil
	})
}

// healthOutput quotes the last health probe's output for an error.
func healthOutput(c Container) string {
	if c.HealthOutput == "" {
		return ""
	}
	return fmt.Sprintf(" (health check said: %q)", oneLine(c.HealthOutput, 200))
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = "…" + s[len(s)-max:]
	}
	return s
}
