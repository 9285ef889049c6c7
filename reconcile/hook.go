package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Hook is one of compose's lifecycle hooks (post_start, pre_stop): a
// command run in the container, as docker compose v2 runs it, with an exec
// of its own. Env holds KEY=VALUE pairs added to the container's
// environment, sorted; a KEY alone unsets it in the exec, as compose passes
// a variable without a value.
type Hook struct {
	Command    []string
	User       string   `json:",omitempty"`
	Privileged bool     `json:",omitempty"`
	WorkingDir string   `json:",omitempty"`
	Env        []string `json:",omitempty"`
}

// ExecResult is how a command run in a container (Runtime.Exec) ended.
type ExecResult struct {
	ExitCode int
	// Output is the last ExecOutputMax bytes of its stdout and stderr,
	// interleaved as written.
	Output string
}

// ExecOutputMax bounds the output Runtime.Exec keeps: the end of it, where
// a failing command says why.
const ExecOutputMax = 4096

// Hook names, as compose files write them.
const (
	HookPostStart = "post_start"
	HookPreStop   = "pre_stop"
)

// EncodeHooks renders hooks for LabelPreStop; none is "".
func EncodeHooks(hooks []Hook) string {
	if len(hooks) == 0 {
		return ""
	}
	b, err := json.Marshal(hooks)
	if err != nil {
		panic("reconcile: marshal hooks: " + err.Error())
	}
	return string(b)
}

// DecodeHooks reads LabelPreStop. A label that does not parse (set by hand)
// holds no hook: moor runs nothing it did not write.
func DecodeHooks(label string) []Hook {
	if label == "" {
		return nil
	}
	var hooks []Hook
	if err := json.Unmarshal([]byte(label), &hooks); err != nil {
		return nil
	}
	return hooks
}

// withHooks adds the lifecycle hooks to op's steps (not to their undo):
// svc's post_start right after every start (svc nil: none), and the
// pre_stop hooks op's observed container was created with (LabelPreStop)
// right before its stop, when it runs: a stopped one has nothing to run
// them in. A failing post_start fails the step, and so the replica, as it
// fails compose's up. A failing pre_stop is reported and the stop goes on:
// docker compose aborts the stop instead, but it is run by hand, while
// moor runs unattended, and the hooks of an old container cannot be fixed
// by a commit, so a broken one would hold that container forever.
func withHooks(op Op, svc *Service) Op {
	var steps []Step
	for _, s := range op.Steps {
		if c := op.Container; s.Kind == StepStop && c != nil && s.Container == c.ID && len(c.PreStop) > 0 && c.Running() {
			steps = append(steps, Step{Kind: StepHook, Container: c.ID, Name: c.Name, Service: c.Service,
				Hook: HookPreStop, Hooks: c.PreStop, Tolerate: true})
		}
		steps = append(steps, s)
		if s.Kind == StepStart && svc != nil && len(svc.Spec.PostStart) > 0 {
			steps = append(steps, Step{Kind: StepHook, Container: s.Container, Name: s.Name, Service: svc.Name,
				Hook: HookPostStart, Hooks: svc.Spec.PostStart})
		}
	}
	op.Steps = steps
	return op
}

// hookString renders a StepHook.
func hookString(s Step) string {
	out := fmt.Sprintf("%s %s", s.Hook, s.Name)
	if len(s.Hooks) > 1 {
		out += fmt.Sprintf(" (%d hooks)", len(s.Hooks))
	}
	if s.Tolerate {
		out += ", failure reported"
	}
	return out
}

// runHooks runs the hooks of s in its container, one after the other, each
// within ReadyTimeout: a hook is part of the container coming up or going
// down. The first that fails (an exit code other than 0, or no exec at
// all) ends them; with s.Tolerate its error is a warning of the op (the
// controller logs it, and status and the ledger show it), and the step
// succeeds.
func (r *applyRun) runHooks(ctx context.Context, run *opRun, s Step, id string) error {
	for i, h := range s.Hooks {
		err := r.runHook(ctx, s, i, h, id)
		if err == nil {
			continue
		}
		if !s.Tolerate {
			return err
		}
		r.warn(run.op, fmt.Sprintf("%s %s failed, going on: %s", s.Hook, s.Name, err))
		return nil
	}
	return nil
}

// runHook runs hook i of s.
func (r *applyRun) runHook(ctx context.Context, s Step, i int, h Hook, id string) error {
	ctx, cancel := context.WithTimeout(ctx, r.e.ReadyTimeout)
	defer cancel()
	res, err := r.e.Runtime.Exec(ctx, id, h)
	what := fmt.Sprintf("service %s: %s[%d] %s", s.Service, s.Hook, i, quoteCommand(h.Command))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if res.ExitCode != 0 {
		err := fmt.Errorf("%s exited with code %d", what, res.ExitCode)
		if out := strings.TrimSpace(res.Output); out != "" {
			err = fmt.Errorf("%w (%s)", err, quoteOutput("hook said: ", out, 400))
		}
		return err
	}
	return nil
}

// quoteCommand renders a hook's command as a compose file's list would.
func quoteCommand(cmd []string) string {
	b, _ := json.Marshal(cmd)
	return string(b)
}

// warn records a warning on the result of op, which succeeds.
func (r *applyRun) warn(op Op, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.results {
		if r.results[i].Op.Resource == op.Resource && r.results[i].Op.Kind == op.Kind {
			r.results[i].Warnings = append(r.results[i].Warnings, msg)
		}
	}
}
