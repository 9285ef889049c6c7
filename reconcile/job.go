package reconcile

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// A job is a service that runs to completion and that other services of
// its stack wait for (compose's migration pattern): restart "no" (or
// none), and depended on with condition service_completed_successfully.
// It runs once per change of its configuration or image, not on every
// run: its container, exited 0, is complete, and is kept for inspection
// until the job's next run, which replaces it. Its dependents are replaced
// only after it completed; when it fails, they keep their old containers.

// Jobs returns the names of the stack's jobs.
func (s *Stack) Jobs() map[string]bool {
	jobs := map[string]bool{}
	for _, svc := range s.Services {
		for name, dep := range svc.DependsOn {
			if job := s.Services[name]; job != nil && dep.Condition == ConditionCompleted &&
				(job.Spec.Restart == "" || job.Spec.Restart == "no") {
				jobs[name] = true
			}
		}
	}
	return jobs
}

// JobOutputLines and JobOutputBytes bound the output a JobError quotes:
// the last lines of the job's container, at most that many bytes of them.
const (
	JobOutputLines = 20
	JobOutputBytes = 4 << 10
)

// JobError is a job run that did not complete: its container exited with
// a code other than 0, could not be created or started, or did not exit
// in time. Its dependents are skipped with it (errors.As finds it in their
// errors), so that status, ledger and notifications can say which job
// held them back and why.
type JobError struct {
	Stack, Service string
	Container      string // the job's container, kept for inspection
	// ExitCode is the container's exit code; -1 when it did not exit.
	ExitCode int
	// Output is the container's last lines (JobOutputLines, at most
	// JobOutputBytes), as it printed them.
	Output string
	// Err is why the job did not run or exit, when it did not.
	Err error
}

func (e *JobError) Error() string {
	s := "job " + ServiceKey(e.Stack, e.Service)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	} else {
		s += fmt.Sprintf(" exited with code %d", e.ExitCode)
	}
	if e.Output != "" {
		// Quoted whole, lines and all, behind the label WithholdOutput
		// knows.
		s += "; " + outputLabels[0] + strconv.Quote(e.Output)
	}
	return s
}

func (e *JobError) Unwrap() error { return e.Err }

// FailedJobs returns the error of every job run of r that failed, in plan
// order: what a notification of the run says of its jobs.
func (r *Result) FailedJobs() []*JobError {
	var out []*JobError
	for _, o := range r.Ops {
		var je *JobError
		if o.Op.Kind == OpRunJob && errors.As(o.Err, &je) {
			out = append(out, je)
		}
	}
	return out
}

// jobOutput is the tail of a job's output a JobError quotes.
func jobOutput(logs string) string {
	logs = strings.TrimRight(logs, "\n")
	if len(logs) > JobOutputBytes {
		logs = logs[len(logs)-JobOutputBytes:]
		if i := strings.IndexByte(logs, '\n'); i >= 0 && i < len(logs)-1 {
			logs = logs[i+1:] // whole lines only
		}
	}
	if lines := strings.Split(logs, "\n"); len(lines) > JobOutputLines {
		logs = strings.Join(lines[len(lines)-JobOutputLines:], "\n")
	}
	return logs
}

// runJobOp runs job svc's replica n once: its previous container (old,
// nil when there is none), exited, is removed, and a new one created,
// started and waited for until it exits. Nothing is undone when it fails:
// the failed container is kept for inspection, and the job's dependents,
// which wait for it, keep their old containers.
func (b *builder) runJobOp(stack string, svc *Service, n int, old *Container, cause string) Op {
	op := containerOp(OpRunJob, stack, svc, n, cause)
	name := svc.ReplicaName(stack, n)
	if old != nil {
		c := *old
		op.Container = &c
		op.Steps = append(op.Steps,
			Step{Kind: StepStop, Container: c.ID, Name: c.Name, Grace: svc.Spec.StopGracePeriod},
			Step{Kind: StepRemove, Container: c.ID, Name: c.Name})
	}
	op.Steps = append(op.Steps,
		b.createStep(stack, svc, n, name),
		Step{Kind: StepStart, Name: name},
		Step{Kind: StepWaitJob, Name: name, Stack: stack, Service: svc.Name})
	return op
}

// waitJobOp waits for a run of job svc's replica n that an earlier apply
// started and did not see end (moor was stopped): its dependents wait for
// it as for a new run.
func waitJobOp(stack string, svc *Service, n int, c Container) Op {
	op := containerOp(OpRunJob, stack, svc, n, "running since an earlier apply: waited for")
	op.Container = &c
	op.Steps = []Step{{Kind: StepWaitJob, Container: c.ID, Name: c.Name, Stack: stack, Service: svc.Name}}
	return op
}

// stuckJob says why svc must not change in this plan because a job it
// waits for cannot run: the job is held after a failure, or blocked. held
// tells which.
func (b *builder) stuckJob(st *Stack, svc *Service) (why string, held bool) {
	for _, name := range slices.Sorted(maps.Keys(svc.DependsOn)) {
		dep := svc.DependsOn[name]
		if !b.jobs[name] || dep.Condition != ConditionCompleted || !dep.Required {
			continue
		}
		key := ServiceKey(st.Name, name)
		if why, ok := b.c.Held[key]; ok && !b.c.Explicit {
			return fmt.Sprintf("waits for job %s, held: %s", name, why), true
		}
		job := st.Services[name]
		_, present := built(b.images, b.buildHashes, job)
		if why := b.blocked(job, present); why != "" {
			return fmt.Sprintf("waits for job %s, blocked: %s", name, why), false
		}
	}
	return "", false
}

// jobWaits names the jobs of the op's Waits, for Op.String.
func jobWaits(ws []Wait) []string {
	var out []string
	for _, w := range ws {
		if w.Job {
			out = append(out, w.Service)
		}
	}
	return out
}

// holdForJob takes back the ops the plan got for svc from index before on,
// and holds svc back (or blocks it), when a job svc waits for cannot run
// in this plan: its containers keep running as they are, as its job's do.
func (b *builder) holdForJob(st *Stack, svc *Service, before int) {
	if len(b.ops) == before {
		return
	}
	why, held := b.stuckJob(st, svc)
	if why == "" {
		return
	}
	b.ops = b.ops[:before]
	if key := ServiceKey(st.Name, svc.Name); held {
		b.plan.Held[key] = why
	} else {
		b.plan.Blocked[key] = why
	}
}
