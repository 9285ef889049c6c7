package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Executor carries a plan out. It makes no decisions: it dispatches each
// op's steps in the order the plan gives, in the plan's phases (pulls first,
// invariant 4; then networks and volumes; then every service's container
// ops, every service at once and dependents after their dependencies; then
// network and volume removals), skips an op whose Needs failed, undoes the
// steps of an op that fails, and follows each rollout's batches and failure
// policy. Parallel bounds its engine calls, not its services.
type Executor struct {
	Runtime Runtime
	// Files holds the stacks' directories (sync-files ops); nil when the
	// plan has none.
	Files Files
	Log   *zap.Logger
	// Clock is what waits wait on; nil is the wall clock.
	Clock Clock
	// Parallel bounds how many engine calls of one apply are in flight at
	// once (default DefaultParallel). A wait holds a slot only for each of
	// its inspects: a service waiting for its dependencies, its health
	// gate or its monitor period does not hold up another's create.
	Parallel int
	// ReadyTimeout bounds how long a started container may take to count
	// as up, and how long a dependent waits for its dependency (default 2m).
	ReadyTimeout time.Duration
	// JobTimeout bounds how long a job may run before it counts as failed
	// and is stopped (default 30m).
	JobTimeout time.Duration
	// Poll is the interval between two inspects while waiting (default 250ms).
	Poll time.Duration
	// Step, when set, is called after every step an op completes, with the
	// op and the step's index. Tests use it to act at each step boundary.
	Step func(op Op, step int)

	calls chan struct{} // a slot per engine call in flight (Parallel), per Apply
}

// OpResult is what became of one op.
type OpResult struct {
	Op  Op
	Err error
	// Skipped: not attempted, because something it needs failed.
	Skipped bool
	// RolledBack: the op succeeded, then its rollout failed and put the
	// old container back.
	RolledBack bool
	Duration   time.Duration
	// Warnings are what went wrong without failing the op: a pre_stop
	// hook that failed before its container was stopped all the same.
	Warnings []string `json:",omitempty"`
}

// Result is what an apply did, op by op, in plan order.
type Result struct {
	Ops []OpResult
}

// Failed returns the results that failed, were skipped or rolled back.
func (r *Result) Failed() []OpResult {
	var out []OpResult
	for _, o := range r.Ops {
		if o.Err != nil {
			out = append(out, o)
		}
	}
	return out
}

// DefaultMonitor is the monitor period of a replacement without a
// healthcheck whose service sets none (deploy.update_config.monitor).
const DefaultMonitor = 2 * time.Second

// DefaultParallel is the default bound on engine calls in flight. On two
// cores the engine takes 100 creates and starts about as fast all at once
// as 16 at a time, and far slower 4 at a time (BENCHMARKS.md, first
// deploy); 64 lets a stack of that size go nearly all at once, as compose
// does, while a plan of several hundred containers, or the inspects of as
// many waits, does not all queue up in the engine at once.
const DefaultParallel = 64

// ErrSkipped is the error of an op that was not attempted.
var ErrSkipped = errors.New("skipped")

func (e *Executor) defaults() {
	if e.Parallel <= 0 {
		e.Parallel = DefaultParallel
	}
	if e.ReadyTimeout <= 0 {
		e.ReadyTimeout = 2 * time.Minute
	}
	if e.JobTimeout <= 0 {
		e.JobTimeout = 30 * time.Minute
	}
	if e.Poll <= 0 {
		e.Poll = 250 * time.Millisecond
	}
	if e.Log == nil {
		e.Log = zap.NewNop()
	}
	if e.Clock == nil {
		e.Clock = RealClock{}
	}
}

// Apply carries out p. It returns one result per op; the caller observes
// the engine again to learn the truth.
func (e *Executor) Apply(ctx context.Context, p *Plan) *Result {
	ex := *e
	ex.defaults()
	ex.calls = make(chan struct{}, ex.Parallel)
	run := &applyRun{e: &ex, results: make([]OpResult, len(p.Ops)), byResource: map[string][]int{}}
	for i, op := range p.Ops {
		run.results[i].Op = op
		run.byResource[op.Resource] = append(run.byResource[op.Resource], i)
	}
	byPhase := make([][]int, phases)
	for i, op := range p.Ops {
		byPhase[phase(op.Kind)] = append(byPhase[phase(op.Kind)], i)
	}
	for ph, idx := range byPhase {
		if ph == phaseContainers {
			run.services(ctx, idx)
			run.compensate(ctx)
			continue
		}
		run.parallel(ctx, idx)
	}
	return &Result{Ops: run.results}
}

type applyRun struct {
	e          *Executor
	byResource map[string][]int // op indices by Resource, for Needs

	mu      sync.Mutex // guards results once ops run concurrently
	results []OpResult
}

// record stores the outcome of op i.
func (r *applyRun) record(i int, start time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &r.results[i]
	res.Duration = r.e.Clock.Now().Sub(start)
	res.Err = err
	res.Skipped = errors.Is(err, ErrSkipped)
	if err == nil {
		r.e.Log.Info("op done", zap.String("op", res.Op.String()), zap.String("stack", res.Op.Stack), zap.Duration("took", res.Duration))
	}
}

// unmet returns why op i must not run: an op it needs failed, or nil.
func (r *applyRun) unmet(i int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, need := range r.results[i].Op.Needs {
		for _, j := range r.byResource[need] {
			if err := r.results[j].Err; err != nil {
				return skipped("%s failed", r.results[j].Op.Resource)
			}
		}
	}
	return nil
}

// compensate undoes each op whose UndoIfAllFail ops all failed: a stack's
// files go back to what its old containers run.
func (r *applyRun) compensate(ctx context.Context) {
	for i := range r.results {
		res := &r.results[i]
		if res.Err != nil || len(res.Op.UndoIfAllFail) == 0 || !r.allFailed(res.Op.UndoIfAllFail) {
			continue
		}
		run := &opRun{op: res.Op}
		for j := range res.Op.Steps {
			run.done = append(run.done, j)
		}
		if _, errs := r.undoSteps(ctx, run); len(errs) > 0 {
			res.Err = fmt.Errorf("no new container of stack %s came up, and putting its files back failed: %w", res.Op.Stack, errors.Join(errs...))
			continue
		}
		res.Err = fmt.Errorf("undone: no new container of stack %s came up, so its files are back as they were", res.Op.Stack)
		res.RolledBack = true
	}
}

// allFailed reports whether every op of the given resources failed.
func (r *applyRun) allFailed(resources []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, res := range resources {
		for _, j := range r.byResource[res] {
			if r.results[j].Err == nil {
				return false
			}
		}
	}
	return true
}

// slot takes one of the Parallel slots for an engine call; release gives
// it back. Outside an Apply there is no bound.
func (e *Executor) slot(ctx context.Context) (release func(), err error) {
	if e.calls == nil {
		return func() {}, nil
	}
	select {
	case e.calls <- struct{}{}:
		return func() { <-e.calls }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// parallel runs the ops at idx at once; their steps' engine calls are
// bounded by Parallel.
func (r *applyRun) parallel(ctx context.Context, idx []int) {
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := r.e.Clock.Now()
			err := r.unmet(i)
			if err == nil {
				err = r.runOp(ctx, r.results[i].Op, nil)
			}
			r.record(i, start, err)
		}()
	}
	wg.Wait()
}
