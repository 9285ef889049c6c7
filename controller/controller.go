// Package controller runs moor's pipeline for one source — resolve, load,
// observe, plan, apply, record — and the loop that runs it on every trigger.
// It is the only package that knows every adapter: gitsource for the
// repository, compose for the files, a reconcile.Runtime for the engine,
// ledger for the record.
package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/verify"
)

// Controller converges the host to one source.
type Controller struct {
	Source   config.Source
	StateDir string
	Runtime  reconcile.Runtime
	Ledger   *ledger.Ledger
	Log      *zap.Logger
	// Metrics, when set, records every run.
	Metrics *Metrics
	// Executor holds the apply settings; its Runtime and Log are set from
	// the Controller's.
	Executor reconcile.Executor
	// WorkDir, when set, plans this local directory instead of the
	// repository (moor plan --dir).
	WorkDir string
	// RetryFailed retries services whose rollout to this revision failed
	// recently, instead of holding them until their backoff ends, and
	// repairs drift even under drift: report (moor apply).
	RetryFailed bool

	git *gitsource.Source
	triggerState

	// loaded caches the last revision's stacks: an unchanged revision is
	// not loaded again (compose loading is most of a no-op run's cost).
	loaded struct {
		rev     string
		desired *reconcile.Desired
	}
	// failures are the services whose rollout failed, by "stack/service";
	// nil until read from the status.
	failures map[string]Failure
	// applied is the revision the host last fully matched.
	applied string
	// lastRecord is the last run written to the ledger, so that a run that
	// only finds the same failure again is not written twice.
	lastRecord struct{ revision, err string }
	// lastDrift is the drift last logged, so that it is logged once.
	lastDrift string
	// verifier holds the trusted keys, loaded at the first verification.
	verifier *verify.Verifier
	// ancestry remembers IsAncestor's verdicts, by "OLD..NEW".
	ancestry map[string]string
	// trusted is the last commit trust accepted, against which applied
	// revision, and its notes.
	trusted struct {
		commit, applied string
		notes           []string
	}
}

// New builds a controller for src, with its snapshots under
// STATE/sources/NAME.
func New(src config.Source, stateDir string, rt reconcile.Runtime, l *ledger.Ledger, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	c := &Controller{Source: src, StateDir: stateDir, Runtime: rt, Ledger: l, Log: log.With(zap.String("source", src.Name))}
	c.git = &gitsource.Source{URL: src.Repo, Ref: src.Ref, Dir: c.sourceDir()}
	c.Executor.Log = c.Log
	c.Executor.Monitor = reconcile.DefaultMonitor
	return c
}

func (c *Controller) sourceDir() string { return filepath.Join(c.StateDir, "sources", c.Source.Name) }

// Outcome is what one pass of the pipeline found and did.
type Outcome struct {
	Snapshot *gitsource.Snapshot
	Desired  *reconcile.Desired
	Plan     *reconcile.Plan
	// Result is nil for a plan that was not applied.
	Result *reconcile.Result
	// Remaining is the plan made from the engine after the apply: empty
	// when the host matches the revision.
	Remaining *reconcile.Plan
	// Drift, under drift: report, is the plan that would repair a host
	// that no longer matches the revision it was converged to. It is
	// reported, not applied.
	Drift  *reconcile.Plan
	Pulled []string // images pulled before planning (pull_policy: always)
	// Notes are facts about the revision for the ledger: who signed it,
	// whether history was rewritten.
	Notes []string
}

// ErrRefused marks a revision that is refused as a whole: nothing on the
// host changes (invariant 3).
var ErrRefused = errors.New("revision refused")

// Plan resolves the source, loads the revision and plans it against the
// engine. Nothing on the host is touched.
func (c *Controller) Plan(ctx context.Context) (*Outcome, error) {
	out, err := c.revision(ctx)
	if err != nil {
		return out, err
	}
	d := out.Desired
	obs, err := c.Runtime.Observe(ctx)
	if err != nil {
		return out, err
	}
	blockNeverPulled(d, obs)
	out.Plan = reconcile.MakePlan(d, obs)
	return out, nil
}

func (c *Controller) snapshot(ctx context.Context) (*gitsource.Snapshot, error) {
	if c.WorkDir != "" {
		return gitsource.WorkingCopy(c.WorkDir)
	}
	// Secrets are read on every sync, so a rotated token or key counts at
	// the next one.
	auth, err := gitsource.Credentials(c.Source.Auth).Method(c.Source.Repo, c.Log)
	if err != nil {
		return nil, err
	}
	c.git.Auth = auth
	rev, err := c.git.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	return c.git.Checkout(ctx, rev)
}

// load reads the stacks of a snapshot. A path missing from the revision, or a
// revision with no stacks at all (unless allowed), refuses the revision.
func (c *Controller) load(ctx context.Context, snap *gitsource.Snapshot) (*reconcile.Desired, error) {
	root := filepath.Join(snap.Dir, filepath.FromSlash(c.Source.Path))
	rev := snap.Revision.String()
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: path %q does not exist in %s", ErrRefused, c.Source.Path, rev)
	}
	if c.WorkDir == "" && c.loaded.rev == rev && c.loaded.desired != nil {
		d := c.loaded.desired
		forEachService(d, func(_ string, svc *reconcile.Service) { svc.Err = nil })
		return d, nil
	}
	d, err := compose.Load(ctx, root, compose.Options{Variables: c.Source.Variables, Profiles: c.Source.Profiles})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRefused, rev, err)
	}
	d.Source, d.Revision = c.Source.Name, rev
	d.PruneVolumes = c.Source.PruneVolumes
	if len(d.Stacks) == 0 && len(d.Broken) == 0 && !c.Source.AllowEmpty {
		where := c.Source.Path
		if where == "" {
			where = "the repository root"
		}
		return nil, fmt.Errorf("%w: %s has no stacks under %s; refusing to remove everything (set allow_empty to allow an empty host)", ErrRefused, rev, where)
	}
	if c.WorkDir == "" {
		c.loaded.rev, c.loaded.desired = rev, d
	}
	return d, nil
}

// blockNeverPulled marks services whose image is absent and must not be
// pulled: they cannot converge.
func blockNeverPulled(d *reconcile.Desired, obs *reconcile.Observed) {
	forEachService(d, func(stack string, svc *reconcile.Service) {
		if _, ok := obs.Images[svc.Spec.Image]; !ok && svc.PullPolicy == reconcile.PullNever && svc.Err == nil {
			svc.Err = fmt.Errorf("image %s is not present and pull_policy is never", svc.Spec.Image)
		}
	})
}

func forEachService(d *reconcile.Desired, fn func(stack string, svc *reconcile.Service)) {
	for _, sn := range sortedKeys(d.Stacks) {
		st := d.Stacks[sn]
		for _, name := range st.ServiceNames() {
			fn(sn, st.Services[name])
		}
	}
}

// Apply runs the whole pipeline once and records it in the ledger. It
// returns the outcome and an error when the host does not match the
// revision afterwards.
func (c *Controller) Apply(ctx context.Context) (*Outcome, error) {
	started := time.Now()
	out, err := c.apply(ctx)
	c.record(started, out, err)
	return out, err
}

// revision resolves the source, checks out its revision, trusts it and
// loads its stacks. Nothing of a revision is read before it is trusted.
func (c *Controller) revision(ctx context.Context) (*Outcome, error) {
	snap, err := c.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Snapshot: snap}
	if out.Notes, err = c.trust(ctx, snap); err != nil {
		return out, err
	}
	out.Desired, err = c.load(ctx, snap)
	return out, err
}

func (c *Controller) apply(ctx context.Context) (*Outcome, error) {
	out, err := c.revision(ctx)
	if err != nil {
		return out, err
	}
	d, snap := out.Desired, out.Snapshot
	if c.WorkDir == "" {
		c.holdFailed(d, time.Now())
	}
	out.Pulled = c.pullAlways(ctx, d)
	obs, err := c.Runtime.Observe(ctx)
	if err != nil {
		return out, err
	}
	blockNeverPulled(d, obs)
	out.Plan = reconcile.MakePlan(d, obs)
	if c.reportOnly(d, out.Plan) {
		out.Drift, out.Remaining = out.Plan, out.Plan
		return out, nil
	}
	ex := c.Executor
	ex.Runtime, ex.Log = c.Runtime, c.Log.With(zap.String("revision", d.Revision))
	after := obs
	if !out.Plan.Empty() {
		out.Result = ex.Apply(ctx, d, out.Plan)
		// Success is what the engine shows, not what the calls returned.
		if after, err = c.Runtime.Observe(ctx); err != nil {
			return out, err
		}
	}
	out.Remaining = reconcile.MakePlan(d, after)
	if c.WorkDir == "" {
		c.noteFailures(d, out.Result, out.Remaining, time.Now())
	}
	c.pruneSnapshots(after, snap)
	return out, outcomeError(out)
}

// reportOnly says whether the plan is drift to report rather than repair:
// under drift: report, a host that was converged to this very revision and
// no longer matches it is left as it is. A new revision is applied in full.
func (c *Controller) reportOnly(d *reconcile.Desired, p *reconcile.Plan) bool {
	if c.Source.Drift != config.DriftReport || c.WorkDir != "" || c.RetryFailed || p.Empty() {
		return false
	}
	c.loadStatus()
	return c.applied == d.Revision
}

// pullAlways pulls the images of services with pull_policy always, before
// anything is planned; a service whose pull fails is blocked.
func (c *Controller) pullAlways(ctx context.Context, d *reconcile.Desired) []string {
	failed := map[string]error{}
	var pulled []string
	forEachService(d, func(stack string, svc *reconcile.Service) {
		if svc.PullPolicy != reconcile.PullAlways || svc.Err != nil {
			return
		}
		img := svc.Spec.Image
		err, done := failed[img]
		if !done {
			err = c.Runtime.Pull(ctx, img)
			failed[img] = err
			if err == nil {
				pulled = append(pulled, img)
			}
		}
		if err != nil {
			svc.Err = err
		}
	})
	return pulled
}

// outcomeError summarizes why the host does not match the revision, or nil.
func outcomeError(out *Outcome) error {
	var problems []string
	if out.Result != nil {
		for _, r := range out.Result.Failed() {
			problems = append(problems, fmt.Sprintf("%s: %v", r.Op, r.Err))
		}
	}
	for _, name := range sortedKeys(out.Remaining.Broken) {
		problems = append(problems, fmt.Sprintf("stack %s: %s", name, out.Remaining.Broken[name]))
	}
	for _, name := range sortedKeys(out.Remaining.Blocked) {
		problems = append(problems, fmt.Sprintf("service %s: %s", name, out.Remaining.Blocked[name]))
	}
	if len(problems) == 0 && !out.Remaining.Empty() {
		problems = append(problems, "not converged: "+strings.TrimSpace(strings.ReplaceAll(out.Remaining.String(), "\n", "; ")))
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "\n"))
}

// pruneSnapshots keeps the current snapshot and those whose files running
// containers may still bind-mount.
func (c *Controller) pruneSnapshots(obs *reconcile.Observed, current *gitsource.Snapshot) {
	if c.WorkDir != "" {
		return
	}
	keep := map[string]bool{current.Revision.Commit: true}
	for _, ct := range obs.Containers {
		if ct.Source != c.Source.Name {
			continue
		}
		if rev, err := gitsource.ParseRevision(ct.Revision); err == nil {
			keep[rev.Commit] = true
		}
	}
	if err := c.git.Prune(keep); err != nil {
		c.Log.Warn("prune snapshots", zap.Error(err))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
