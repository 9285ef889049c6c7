package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
)

// opRun is one op being carried out: the container it created and the
// steps it completed, so that they can be undone.
type opRun struct {
	op    Op
	newID string
	done  []int
}

// runOp runs the op's steps but the deferred ones. When a step fails, the
// steps done are undone, in reverse order, and the error says what failed
// and whether undoing it worked.
func (r *applyRun) runOp(ctx context.Context, op Op, run *opRun) error {
	if run == nil {
		run = &opRun{op: op}
	}
	for i, s := range op.Steps {
		if s.Deferred {
			continue
		}
		if err := r.step(ctx, run, s); err != nil {
			return r.undo(ctx, run, asJobError(op, s, err))
		}
		run.done = append(run.done, i)
		r.after(op, i)
	}
	return nil
}

// runDeferred runs the op's deferred steps, once its rollout succeeded.
func (r *applyRun) runDeferred(ctx context.Context, run *opRun) error {
	for i, s := range run.op.Steps {
		if !s.Deferred {
			continue
		}
		if err := r.step(ctx, run, s); err != nil {
			return err
		}
		r.after(run.op, i)
	}
	return nil
}

func (r *applyRun) after(op Op, step int) {
	if r.e.Step != nil {
		r.e.Step(op, step)
	}
}

// undo runs the undo of every step of run done so far, last first, with a
// context of its own: a cancelled apply must still put the old container
// back. cause is why; the error returned says it and how the undo went.
func (r *applyRun) undo(ctx context.Context, run *opRun, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.e.ReadyTimeout+time.Minute)
	defer cancel()
	var logs string
	var je *JobError
	if run.newID != "" && !errors.As(cause, &je) { // a job's error quotes its output
		logs, _ = r.e.Runtime.Logs(ctx, run.newID, 10)
	}
	undone, errs := r.undoSteps(ctx, run)
	err := cause
	if logs = strings.TrimSpace(logs); logs != "" {
		err = fmt.Errorf("%w; %s", err, quoteOutput("last output: ", logs, 400))
	}
	switch {
	case len(errs) > 0:
		return fmt.Errorf("%w; restoring the old container failed: %w", err, errors.Join(errs...))
	case undone && run.op.Container != nil:
		return fmt.Errorf("%w; old container restored", err)
	}
	return err
}

// undoSteps runs the undo of the steps done, last first, and forgets them.
func (r *applyRun) undoSteps(ctx context.Context, run *opRun) (undone bool, errs []error) {
	for k := len(run.done) - 1; k >= 0; k-- {
		for _, u := range run.op.Steps[run.done[k]].Undo {
			undone = true
			if err := r.step(ctx, run, u); err != nil && !errors.Is(err, ErrConflict) {
				errs = append(errs, err)
			}
		}
	}
	run.done = nil
	return undone, errs
}

// step makes the engine call of one step, in one of the Parallel slots; a
// wait takes one per inspect.
func (r *applyRun) step(ctx context.Context, run *opRun, s Step) error {
	if s.Kind != StepReady && s.Kind != StepWaitJob {
		release, err := r.e.slot(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		defer release()
	}
	rt := r.e.Runtime
	id := s.Container
	if id == "" {
		id = run.newID
	}
	if id == "" && s.Kind.onContainer() {
		if s.Kind == StepRemove {
			return nil // nothing was created
		}
		return fmt.Errorf("%s: no container was created", s)
	}
	var err error
	switch s.Kind {
	case StepPull:
		err = rt.Pull(ctx, s.Image, s.Platform)
	case StepBuild:
		err = rt.Build(ctx, *s.Build)
	case StepCreateNetwork:
		err = rt.CreateNetwork(ctx, *s.Network, s.Labels)
	case StepCreateVolume:
		err = rt.CreateVolume(ctx, *s.Volume, s.Labels)
	case StepRemoveNetwork:
		err = rt.RemoveNetwork(ctx, s.Network.Name)
	case StepRemoveVolume:
		err = rt.RemoveVolume(ctx, s.Volume.Name)
	case StepCreate:
		if s.ComposeTemplate.Template != "" {
			if s.Labels, err = r.composeHash(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		run.newID, err = rt.CreateContainer(ctx, s.Name, *s.Spec, s.Labels)
		if errors.Is(err, ErrConflict) && s.Leftover && r.removeLeftover(ctx, s) {
			run.newID, err = rt.CreateContainer(ctx, s.Name, *s.Spec, s.Labels)
		}
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("create %s: the name is taken by a container moor does not manage: %w", s.Name, err)
		}
	case StepStart:
		err = rt.StartContainer(ctx, id)
	case StepReady:
		return r.e.waitReady(ctx, id, subject(s), *s.Ready)
	case StepWaitJob:
		return r.waitJob(ctx, id, s)
	case StepExpose:
		err = rt.Expose(ctx, id, strings.TrimSuffix(s.Name, CandidateSuffix), *s.Spec, s.Service)
	case StepHook:
		err = r.runHooks(ctx, run, s, id)
	case StepStop:
		if err = rt.StopContainer(ctx, id, s.Grace); errors.Is(err, ErrNotFound) {
			err = nil // absent is stopped
		}
	case StepRename:
		err = rt.RenameContainer(ctx, id, s.To)
	case StepSyncFiles:
		if r.e.Files == nil {
			return fmt.Errorf("%s: no stack directories", s)
		}
		err = r.e.Files.SyncFiles(ctx, s.Stack, *s.Files)
	case StepRemove:
		if err = rt.RemoveContainer(ctx, id); err == nil && s.Container == "" {
			run.newID = "" // gone: a second undo has nothing to remove
		}
	default:
		err = fmt.Errorf("unknown step kind %d", s.Kind)
	}
	if err != nil && s.Kind.onContainer() {
		// The engine names a container by ID; the step names it as the
		// plan does.
		return fmt.Errorf("%s: %w", s, err)
	}
	return err
}

// composeHash returns s's labels with compose's hash, computed from the
// IDs of the containers whose namespace the new one shares.
func (r *applyRun) composeHash(ctx context.Context, s Step) (map[string]string, error) {
	ids := map[string]string{}
	for ref, name := range s.ComposeRefs {
		c, err := r.e.Runtime.InspectContainer(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("the container of %s, whose namespace it shares: %w", ref, err)
		}
		ids[ref] = c.ID
	}
	labels := maps.Clone(s.Labels)
	if h := s.ComposeTemplate.HashWith(ids); h != "" {
		labels[LabelComposeConfigHash] = h
	}
	return labels, nil
}

// removeLeftover removes the container holding s.Name when it carries the
// owner and source s creates with: a create of an interrupted run of this
// instance that the engine completed after that run last looked. It reports
// whether it did.
func (r *applyRun) removeLeftover(ctx context.Context, s Step) bool {
	c, err := r.e.Runtime.InspectContainer(ctx, s.Name)
	owner, source := s.Labels[LabelOwner], s.Labels[LabelSource]
	if err != nil || owner == "" || c.Owner != owner || c.Source != source || c.Name != s.Name {
		return false
	}
	return r.e.Runtime.RemoveContainer(ctx, c.ID) == nil
}

// subject names a step's container in a readiness error.
func subject(s Step) string {
	if s.Container == "" {
		return "new container"
	}
	return s.Name
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = "…" + s[len(s)-max:]
	}
	return s
}
