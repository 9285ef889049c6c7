package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Executor carries a plan out. It makes no decisions of its own beyond the
// order the plan and depends_on impose: pulls first (invariant 4), then
// networks and volumes, then every service's container ops (independent
// services in parallel, dependents after their dependencies), then network
// removals.
type Executor struct {
	Runtime Runtime
	Log     *zap.Logger
	// Parallel bounds how many services converge at once (default 4).
	Parallel int
	// ReadyTimeout bounds how long a new container may take to become
	// healthy (or, without a healthcheck, to keep running for Monitor), and
	// how long a dependent waits for its dependency (default 2m).
	ReadyTimeout time.Duration
	// Monitor is how long a new container without a healthcheck must keep
	// running, without a restart, to count as up; a service's
	// update_config.monitor overrides it. Zero waits for nothing (tests of
	// the fake); moor runs with DefaultMonitor.
	Monitor time.Duration
	// Poll is the interval between two inspects while waiting (default 250ms).
	Poll time.Duration
	// Step, when set, is called at every step boundary of a container op
	// with the step's name ("replace/stopped-old", ...). Tests use it to
	// kill moor at each step.
	Step func(step string)
}

// OpResult is what became of one op.
type OpResult struct {
	Op       Op
	Err      error
	Skipped  bool // not attempted because something it needs failed
	Duration time.Duration
}

// Result is what an apply did, op by op, in plan order.
type Result struct {
	Ops []OpResult
}

// Failed returns the results that failed or were skipped.
func (r *Result) Failed() []OpResult {
	var out []OpResult
	for _, o := range r.Ops {
		if o.Err != nil {
			out = append(out, o)
		}
	}
	return out
}

// DefaultMonitor is the monitor period moor runs with.
const DefaultMonitor = 2 * time.Second

// ErrSkipped is the error of an op that was not attempted.
var ErrSkipped = errors.New("skipped")

func (e *Executor) defaults() {
	if e.Parallel <= 0 {
		e.Parallel = 4
	}
	if e.ReadyTimeout <= 0 {
		e.ReadyTimeout = 2 * time.Minute
	}
	if e.Poll <= 0 {
		e.Poll = 250 * time.Millisecond
	}
	if e.Log == nil {
		e.Log = zap.NewNop()
	}
}

// Apply carries out p, which MakePlan made from d. It returns one result per
// op; the caller observes the engine again to learn the truth.
func (e *Executor) Apply(ctx context.Context, d *Desired, p *Plan) *Result {
	e.defaults()
	run := &applyRun{e: e, d: d, results: make([]OpResult, len(p.Ops)), failedImages: map[string]error{}, failedStacks: map[string]error{}}
	for i, op := range p.Ops {
		run.results[i].Op = op
	}
	idx := func(kinds ...OpKind) []int {
		var out []int
		for i, op := range p.Ops {
			for _, k := range kinds {
				if op.Kind == k {
					out = append(out, i)
				}
			}
		}
		return out
	}
	run.parallel(ctx, idx(OpPull), run.pull)
	run.parallel(ctx, idx(OpCreateNetwork, OpCreateVolume), run.stackResource)
	run.services(ctx, p)
	run.parallel(ctx, idx(OpRemoveNetwork), run.removeNetwork)
	run.parallel(ctx, idx(OpRemoveVolume), run.removeVolume)
	return &Result{Ops: run.results}
}

type applyRun struct {
	e       *Executor
	d       *Desired
	results []OpResult

	mu           sync.Mutex
	failedImages map[string]error
	failedStacks map[string]error
}

func (r *applyRun) record(i int, start time.Time, err error) {
	r.results[i].Duration = time.Since(start)
	r.results[i].Err = err
	if errors.Is(err, ErrSkipped) {
		r.results[i].Skipped = true
	}
	op := r.results[i].Op
	if err != nil {
		r.e.Log.Warn("op failed", zap.String("op", op.String()), zap.String("stack", op.Stack), zap.Error(err))
	} else {
		r.e.Log.Info("op done", zap.String("op", op.String()), zap.String("stack", op.Stack), zap.Duration("took", r.results[i].Duration))
	}
}

// parallel runs fn for the ops at idx, at most Parallel at once.
func (r *applyRun) parallel(ctx context.Context, idx []int, fn func(context.Context, Op) error) {
	sem := make(chan struct{}, r.e.Parallel)
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			start := time.Now()
			r.record(i, start, fn(ctx, r.results[i].Op))
		}(i)
	}
	wg.Wait()
}

func (r *applyRun) pull(ctx context.Context, op Op) error {
	err := r.e.Runtime.Pull(ctx, op.Image)
	if err != nil {
		r.mu.Lock()
		r.failedImages[op.Image] = err
		r.mu.Unlock()
	}
	return err
}

func (r *applyRun) stackResource(ctx context.Context, op Op) error {
	var err error
	switch op.Kind {
	case OpCreateNetwork:
		err = r.e.Runtime.CreateNetwork(ctx, *op.Network, r.resourceLabels(op.Stack, LabelComposeNetwork, op.Network.Key))
	case OpCreateVolume:
		err = r.e.Runtime.CreateVolume(ctx, *op.Volume, r.resourceLabels(op.Stack, LabelComposeVolume, op.Volume.Key))
	}
	if err != nil {
		r.mu.Lock()
		r.failedStacks[op.Stack] = fmt.Errorf("%s: %w", op.Resource, err)
		r.mu.Unlock()
	}
	return err
}

func (r *applyRun) removeNetwork(ctx context.Context, op Op) error {
	r.mu.Lock()
	err := r.failedStacks[op.Stack]
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSkipped, err)
	}
	return r.e.Runtime.RemoveNetwork(ctx, op.Network.Name)
}

// removeVolume removes a pruned volume once its stack's containers are
// gone; a container of the stack that could not be removed keeps it.
func (r *applyRun) removeVolume(ctx context.Context, op Op) error {
	for _, res := range r.results {
		if res.Op.Kind == OpRemove && res.Op.Stack == op.Stack && res.Err != nil {
			return fmt.Errorf("%w: a container of stack %s was not removed", ErrSkipped, op.Stack)
		}
	}
	return r.e.Runtime.RemoveVolume(ctx, op.Volume.Name)
}

func (r *applyRun) resourceLabels(stack, composeKey, key string) map[string]string {
	return map[string]string{
		LabelStack:          stack,
		LabelSource:         r.d.Source,
		LabelComposeProject: stack,
		composeKey:          key,
	}
}

// ContainerLabels are the labels of replica n of svc: moor's ownership and
// state labels plus compose's, so `docker compose -p STACK ps` sees it.
func ContainerLabels(d *Desired, stack string, svc *Service, n int) map[string]string {
	return map[string]string{
		LabelStack:                  stack,
		LabelService:                svc.Name,
		LabelRevision:               d.Revision,
		LabelConfigHash:             svc.Hash,
		LabelConfigFields:           svc.Spec.FieldDigests(),
		LabelSource:                 d.Source,
		LabelComposeProject:         stack,
		LabelComposeService:         svc.Name,
		LabelComposeContainerNumber: fmt.Sprint(n),
		LabelComposeOneoff:          "False",
	}
}

func (r *applyRun) step(name string) {
	if r.e.Step != nil {
		r.e.Step(name)
	}
}
