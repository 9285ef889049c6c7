// Package controller runs moor's pipeline for one source — resolve, load,
// observe, plan, apply, record — and the loop that runs it on every trigger.
// It is the only package that knows every adapter: gitsource for the
// repository, compose for the files, a reconcile.Runtime for the engine,
// ledger for the record.
//
// `moor plan` and `moor apply` take one path (Controller.pass) from the ref
// to the plan; only apply goes on to carry the plan out.
package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/stackdir"
	"github.com/moor-dev/moor/swarm"
	"github.com/moor-dev/moor/verify"
)

// Controller converges the host to one source.
type Controller struct {
	Source   config.Source
	StateDir string
	// SecretsDir is the memory-backed directory decrypted files are
	// written to, a directory per source (config.Config.SecretsDir).
	SecretsDir string
	// Host is this host's identity in a fleet (config.Config.Host).
	Host    config.Host
	Runtime reconcile.Runtime
	Ledger  *ledger.Ledger
	Log     *zap.Logger
	// Metrics, when set, records every run.
	Metrics *Metrics
	// Executor holds the apply settings; its Runtime and Log are set from
	// the Controller's.
	Executor reconcile.Executor
	// WorkDir, when set, plans this local directory instead of the
	// repository (moor plan --dir).
	WorkDir string
	// Explicit marks an operator's run (moor plan, moor apply): services
	// held back by a recent failure are retried, and drift that the source
	// only reports is repaired.
	Explicit bool
	// CheckImages asks the registry in every run whether the revision's
	// tags moved, as an image_updates check does (moor plan --images,
	// moor apply --images): images.go.
	CheckImages bool
	// IgnoreSuspend and IgnoreWindows make an operator's apply go past a
	// suspension (moor apply --ignore-suspend) or a closed deploy window
	// (moor apply --ignore-windows); the ledger records it (holds.go).
	IgnoreSuspend bool
	IgnoreWindows bool
	// IgnoreCanary makes an operator's apply go past the canary hosts of
	// a stack (moor apply --ignore-canary); the ledger records it
	// (canary.go).
	IgnoreCanary bool
	// Ran, when set, is told of every run of Loop once it is logged.
	Ran func(out *Outcome, err error)
	// Deploy, when set, is told of the deploy state of the revision each
	// apply works on as it changes: pending as a rollout starts, then the
	// run's verdict (deploy.go). It is called on the run's goroutine, and
	// must not block.
	Deploy func(DeployEvent)
	// timeNow is the loop's clock (holds.go); nil: time.Now.
	timeNow func() time.Time

	// Swarm is the swarm of a source with runtime: swarm (swarm.go);
	// swarmLast is what its last run wanted and observed.
	Swarm     *swarm.Engine
	swarmLast swarmRun

	git *gitsource.Source
	// files are the source's stack directories; nil for a plan of a
	// working copy.
	files *stackdir.Dirs
	triggerState
	retryState

	// identity is this moor instance's (LoadIdentity), or why it could not
	// be had: without it nothing can tell what is the instance's own.
	identity    Identity
	identityErr error
	// build is this build of moor (its Go build ID), part of the key
	// of a cached load; "" caches nothing.
	build string

	// loaded caches the last revision's stacks: an unchanged revision is
	// not loaded again (compose loading is most of a no-op run's cost).
	loaded struct {
		rev     string
		desired *reconcile.Desired
		// view is the key of the host's view of rev (fleet.go), when
		// desired may stand for another revision with the same view.
		view string
	}
	// dec are the decisions kept between runs; nil until read.
	dec *decisions
	// lastRecord is the last run written to the ledger, so that a run that
	// only finds the same failure again is not written twice.
	lastRecord struct{ revision, err string }
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

	// clock times the stages of the current run.
	clock timeline
	// drift is what the controller knows of the host between drift
	// checks (drift.go).
	drift driftState
	// images are the image checks of image_updates (images.go).
	images imageState
	// canary is what the controller keeps about the changes it holds
	// for canary hosts (canary.go).
	canary canaryState

	// mu guards report, which readers on other goroutines (the HTTP
	// server) take while runs go on.
	mu     sync.Mutex
	report *SourceReport
}

// New builds a controller for src, with its snapshots under
// STATE/sources/NAME.
func New(src config.Source, stateDir string, rt reconcile.Runtime, l *ledger.Ledger, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	c := &Controller{Source: src, StateDir: stateDir, Runtime: rt, Ledger: l, Log: log.With(zap.String("source", src.Name))}
	c.git = &gitsource.Source{URL: src.Repo, Ref: src.Ref, Dir: c.sourceDir(), Listed: fleetListed(src.Path),
		Omit: func(t gitsource.Trees) []string { return fleetOmit(c.Source.Path, c.composeHost())(t) }}
	c.files = &stackdir.Dirs{Root: c.StacksRoot(), Manifests: filepath.Join(c.sourceDir(), "files"),
		Snapshot: c.git.StoredDir, SourcePath: c.Source.Path}
	c.Executor.Log = c.Log
	c.identity, c.identityErr = LoadIdentity(stateDir)
	c.build = buildID()
	return c
}

func (c *Controller) sourceDir() string { return filepath.Join(c.StateDir, "sources", c.Source.Name) }

// StacksRoot is where the source's stack directories live: the source's
// stacks_dir, or STATE/stacks/NAME.
func (c *Controller) StacksRoot() string {
	if c.Source.StacksDir != "" {
		return c.Source.StacksDir
	}
	return filepath.Join(c.StateDir, "stacks", c.Source.Name)
}

// observe is one snapshot of the engine and of the stack directories.
func (c *Controller) observe(ctx context.Context) (*reconcile.Observed, error) {
	obs, err := c.Runtime.Observe(ctx)
	if err != nil || c.WorkDir != "" {
		return obs, err
	}
	c.observed(obs)
	if obs.Files, err = c.files.ObserveFiles(ctx); err != nil {
		return nil, fault.Mark(fault.ErrTransient, err)
	}
	return obs, nil
}

// Outcome is what one pass of the pipeline found and did.
type Outcome struct {
	Snapshot *gitsource.Snapshot
	Desired  *reconcile.Desired
	// Constraints are what the controller's records and its pulls added to
	// the plan.
	Constraints reconcile.Constraints
	Plan        *reconcile.Plan
	// Result is nil for a plan that was not applied.
	Result *reconcile.Result
	// Observed is the engine as last seen: after the apply, if any.
	Observed *reconcile.Observed
	// Remaining is the plan made from the engine after the apply: empty
	// when the host matches the revision.
	Remaining *reconcile.Plan
	Pulled    []string // images pulled before planning (pull_policy: always)
	// FailedPulls are the pulls before planning that failed, by image.
	FailedPulls map[string]error
	// Notes are facts about the revision for the ledger: who signed it,
	// whether history was rewritten.
	Notes []string
	// ImageCheck is what the registry said of the revision's tags, in an
	// image-update run (images.go).
	ImageCheck *ImageCheck
	// Stages are the steps of the run in order, with their durations.
	Stages []Stage
	// Suspended are the source's suspensions as the run read them.
	Suspended []Suspension
	// WindowOpens is when the closed deploy window that holds ops of the
	// plan opens; zero when no op waits for a window.
	WindowOpens time.Time
	// Overrides are the holds an operator's apply went past (holds.go).
	Overrides []string
	// Quiet: a poll found the source unchanged and the host settled at
	// its revision, and no drift check was due; the engine was not asked
	// anything and nothing was planned (Poll).
	Quiet bool
}

// Warnings are the warnings of the ops that ran without failing: data the
// apply made anew although it should have been there, a pre_stop hook that
// failed before its container was stopped all the same.
func (out *Outcome) Warnings() []string {
	if out == nil || out.Result == nil {
		return nil
	}
	var ws []string
	for _, r := range out.Result.Ops {
		ws = append(ws, opWarnings(r)...)
	}
	return ws
}

// opWarnings are the warnings of one op that ran without failing: the
// plan's and the apply's.
func opWarnings(r reconcile.OpResult) []string {
	if r.Err != nil {
		return nil
	}
	var ws []string
	if r.Op.Warning != "" {
		ws = append(ws, r.Op.Warning)
	}
	return append(ws, r.Warnings...)
}

// ErrRefused marks a revision that is refused as a whole: nothing on the
// host changes (invariant 3). Its class is fault.Refused.
var ErrRefused = fault.Mark(fault.ErrRefused, errors.New("revision refused"))

// Plan resolves the source, loads the revision and plans it against the
// engine, as Apply would. Nothing on the host is touched.
func (c *Controller) Plan(ctx context.Context) (*Outcome, error) {
	return c.pass(ctx, false)
}

// Apply runs the whole pipeline once and records it in the ledger and the
// status. It returns the outcome and an error when the host does not match
// the revision afterwards; fault.Of tells what kind of failure it is.
func (c *Controller) Apply(ctx context.Context) (*Outcome, error) {
	return c.Poll(ctx, true)
}

// pass is the pipeline up to the plan, the same for plan and apply:
// resolve, trust, load, the constraints of the controller's records,
// (for apply) the pulls of pull_policy always, observe, plan.
func (c *Controller) pass(ctx context.Context, apply bool) (*Outcome, error) {
	return c.passChecked(ctx, apply, true)
}

// passChecked is pass; without check, a revision the host is settled at
// ends the pass before the engine is asked anything (Outcome.Quiet).
func (c *Controller) passChecked(ctx context.Context, apply, check bool) (*Outcome, error) {
	if c.swarmSource() {
		out, _, err := c.swarmPass(ctx, check)
		return out, err
	}
	if c.identityErr != nil {
		return nil, fault.Mark(fault.ErrRefused, c.identityErr)
	}
	c.clock.start()
	out, err := c.revision(ctx)
	if out != nil {
		defer func() { out.Stages = c.clock.stages }()
	}
	if err != nil {
		return out, err
	}
	if !check && c.quiet(out) {
		out.Quiet = true
		c.windowOpen(c.now()) // the metric, which the holds keep otherwise
		return out, nil
	}
	d := out.Desired
	out.Constraints = c.constraints(d, time.Now())
	opens, err := c.holds(out, c.now())
	if err != nil {
		return out, err
	}
	if c.retry.Swap(false) {
		out.Constraints.Explicit = true // RetryHeld
	}
	c.clock.mark("records")
	if apply {
		out.Pulled, out.FailedPulls = c.pullAlways(ctx, d)
		c.clock.mark("pull")
	}
	if len(out.FailedPulls) > 0 {
		out.Constraints.FailedPulls = map[string]string{}
		for img, err := range out.FailedPulls {
			out.Constraints.FailedPulls[img] = printable.Error(err)
		}
	}
	if out.Observed, err = c.observe(ctx); err != nil {
		return out, err
	}
	c.clock.mark("observe")
	imageRun := c.imagesAfterHold(out.Constraints)
	c.checkImages(ctx, out)
	out.Plan = reconcile.MakePlan(d, out.Observed, out.Constraints)
	if held := c.canaryHolds(ctx, out); len(held) > 0 {
		out.Constraints.Canary = held
		out.Plan = reconcile.MakePlan(d, out.Observed, out.Constraints)
	}
	c.clock.mark("plan")
	if len(out.Plan.Waiting) > 0 {
		if out.Constraints.Window != "" {
			out.WindowOpens = opens
		}
		// A tag that moved waits with the rest; the first run that is
		// not held asks the registry again.
		c.images.held = c.images.held || imageRun
	} else if imageRun {
		c.images.held = false
	}
	if !apply {
		if imgs := pullsFirst(d); len(imgs) > 0 {
			out.Plan.Notes = append(out.Plan.Notes, fmt.Sprintf("pull_policy always: apply pulls %v first; a newer image replaces the containers that run it", imgs))
		}
	}
	return out, nil
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
	c.clock.mark("trust")
	out.Desired, err = c.load(ctx, snap)
	c.clock.mark("load")
	return out, err
}

func (c *Controller) snapshot(ctx context.Context) (*gitsource.Snapshot, error) {
	if c.WorkDir != "" {
		return gitsource.WorkingCopy(c.WorkDir)
	}
	// Secrets are read on every sync, so a rotated token or key counts at
	// the next one.
	auth, err := gitsource.Credentials(c.Source.Auth).Method(c.Source.Repo, c.Log)
	if err != nil {
		return nil, fault.Mark(fault.ErrRefused, err)
	}
	c.git.Auth = auth
	rev, err := c.git.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	c.clock.mark("resolve")
	snap, err := c.git.Checkout(ctx, rev)
	c.clock.mark("checkout")
	return snap, err
}

// load reads the stacks of a snapshot. A path missing from the revision, or a
// revision with no stacks at all (unless allowed), refuses the revision.
// The loaded desired state is never modified afterwards: it is cached for
// the next run of the same revision and recorded for `moor status`.
func (c *Controller) load(ctx context.Context, snap *gitsource.Snapshot) (*reconcile.Desired, error) {
	root, rev, err := c.sourceRoot(snap)
	if err != nil {
		return nil, err
	}
	if c.WorkDir == "" && c.loaded.rev == rev && c.loaded.desired != nil {
		return c.loaded.desired, nil
	}
	sec, err := c.composeSecrets()
	if err != nil {
		return nil, err
	}
	opts := compose.Options{
		Repo:       snap.Dir,
		Variables:  c.Source.Variables,
		Profiles:   c.Source.Profiles,
		Limits:     compose.Limits{Replicas: c.Source.MaxReplicas},
		StacksRoot: c.StacksRoot(),
		Secrets:    sec,
		Host:       c.composeHost(),
	}
	if d, ok := c.sameView(snap, opts); ok {
		return d, nil
	}
	key := c.loadKey(rev, root, opts)
	cached := cachedLoad(c.StateDir, c.Source.Name, key)
	var d *reconcile.Desired
	if cached != nil {
		d = &reconcile.Desired{Stacks: cached.Stacks, Broken: map[string]error{}}
	} else {
		var err error
		if d, err = c.loadStacks(ctx, root, rev, opts); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(slices.Collect(maps.Values(d.Stacks)), (*reconcile.Stack).Sensitive) {
			key = "" // decrypted values stay in memory
		}
		if key != "" {
			if err := compose.Hermetic(snap.Dir); err != nil {
				c.Log.Debug("loaded stacks not cached", zap.Error(err))
				key = ""
			}
		}
	}
	d.Source, d.Revision, d.Owner = c.Source.Name, rev, c.identity.ID
	for _, st := range d.Stacks {
		if st.Files != nil {
			st.Files.Revision = rev
		}
	}
	d.PruneVolumes = c.Source.PruneVolumes
	if err := c.refuseEmpty(rev, len(d.Stacks)+len(d.Broken), "host"); err != nil {
		return nil, err
	}
	if c.WorkDir == "" {
		c.loaded.rev, c.loaded.desired = rev, d
		c.keepView(snap, opts, d)
		if cached == nil || !cached.sameRecord(d, c.driftReport()) {
			if err := writeDesired(c.StateDir, d, c.driftReport(), key); err != nil {
				c.Log.Warn("record desired state for moor status", zap.Error(err))
			}
		}
	}
	return d, nil
}

// loadStacks loads the stacks under root through compose-go. The revision
// is input: loading it is held to the source's timeout (the loader's limits
// keep it well within), and reads nothing outside the snapshot.
func (c *Controller) loadStacks(ctx context.Context, root, rev string, opts compose.Options) (*reconcile.Desired, error) {
	var d *reconcile.Desired
	err := c.timedLoad(ctx, rev, func(ctx context.Context) (err error) {
		d, err = compose.Load(ctx, root, opts)
		return err
	})
	return d, err
}

// timedLoad runs load held to the source's timeout. An error of the load
// refuses the revision; one of a run cut short says nothing of it.
func (c *Controller) timedLoad(ctx context.Context, rev string, load func(context.Context) error) error {
	loadCtx := ctx
	if c.Source.Timeout > 0 {
		var cancel context.CancelFunc
		loadCtx, cancel = context.WithTimeout(ctx, c.Source.Timeout)
		defer cancel()
	}
	err := load(loadCtx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return err // cut short: says nothing of the revision
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s: loading its stacks took longer than the source's timeout (%v)", ErrRefused, rev, c.Source.Timeout)
	}
	return fmt.Errorf("%w: %s: %w", ErrRefused, rev, err)
}

// sourceRoot is the directory of the snapshot the source's path names,
// and the snapshot's revision; a path missing from it refuses the
// revision.
func (c *Controller) sourceRoot(snap *gitsource.Snapshot) (root, rev string, err error) {
	root = filepath.Join(snap.Dir, filepath.FromSlash(c.Source.Path))
	rev = snap.Revision.String()
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return "", "", fmt.Errorf("%w: path %q does not exist in %s", ErrRefused, c.Source.Path, rev)
	}
	return root, rev, nil
}

// refuseEmpty refuses a revision with no stacks (n, broken ones counted)
// unless the source allows it: an empty revision would remove everything
// from the target ("host", "swarm").
func (c *Controller) refuseEmpty(rev string, n int, target string) error {
	if n > 0 || c.Source.AllowEmpty {
		return nil
	}
	where := c.Source.Path
	if where == "" {
		where = "the repository root"
	}
	return fmt.Errorf("%w: %s has no stacks under %s; refusing to remove everything (set allow_empty to allow an empty %s)", ErrRefused, rev, where, target)
}

func (c *Controller) apply(ctx context.Context, check bool) (*Outcome, error) {
	if c.swarmSource() {
		return c.swarmApply(ctx, check)
	}
	out, err := c.passChecked(ctx, true, check)
	if err == nil && out.Quiet {
		return out, nil
	}
	c.drift.settled = "" // until this run says otherwise
	if err != nil {
		return out, err
	}
	d := out.Desired
	if !out.Plan.Empty() {
		if err := c.writeSecrets(d); err != nil {
			return out, err
		}
		ex := c.Executor
		ex.Runtime, ex.Files, ex.Log = c.Runtime, c.files, c.Log.With(zap.String("revision", d.Revision))
		end := c.beginRollout(out)
		// The engine's events about what the ops do are the
		// controller's own: the observe below sees their outcome.
		c.drift.applying.Add(1)
		out.Result = ex.Apply(ctx, out.Plan)
		c.drift.applying.Add(-1)
		end()
		c.clock.mark("apply")
		// Success is what the engine shows, not what the calls returned.
		if out.Observed, err = c.observe(ctx); err != nil {
			return out, err
		}
		c.clock.mark("verify")
		c.pruneSecrets(d, out.Observed)
	}
	if c.WorkDir == "" {
		// What the apply took over is the instance's from now on.
		c.noteAdopted(out.Result, out.Observed)
		out.Constraints.Adopted = adoptedIDs(c.decisions())
	}
	out.Remaining = reconcile.MakePlan(d, out.Observed, out.Constraints)
	if c.WorkDir == "" {
		c.noteFailures(d, out.Result, out.Remaining, time.Now())
		c.noteImageFailures(out)
		c.noteRan(d, out.Result, out.Remaining, time.Now())
		c.noteNeeds(d, out.Remaining)
		c.pruneSnapshots(out.Observed, out.Snapshot)
	}
	err = outcomeError(out)
	c.settle(out, err)
	return out, err
}

// pullsFirst lists the images of services with pull_policy always, which
// an apply pulls before planning.
func pullsFirst(d *reconcile.Desired) []string {
	var imgs []string
	d.EachService(func(_ string, svc *reconcile.Service) {
		if svc.PullPolicy == reconcile.PullAlways {
			imgs = appendUnique(imgs, svc.Spec.Image)
		}
	})
	return imgs
}

// pullAlways pulls the images of services with pull_policy always, before
// anything is planned. A failed pull blocks the services of its image.
func (c *Controller) pullAlways(ctx context.Context, d *reconcile.Desired) (pulled []string, failed map[string]error) {
	platform := map[string]string{}
	d.EachService(func(_ string, svc *reconcile.Service) {
		if _, seen := platform[svc.Spec.Image]; !seen && svc.PullPolicy == reconcile.PullAlways {
			platform[svc.Spec.Image] = svc.Spec.Platform
		}
	})
	for _, img := range pullsFirst(d) {
		if err := c.Runtime.Pull(ctx, img, platform[img]); err != nil {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[img] = err
			continue
		}
		pulled = append(pulled, img)
	}
	return pulled, failed
}

// outcomeError says why the host does not match the revision, or nil. Each
// problem keeps its error chain, and its class: a container op that failed
// is held back (it is retried on its own schedule), a broken stack or an
// image that must not be pulled is refused, what else failed is transient
// unless its error says more (an engine that is down).
func outcomeError(out *Outcome) error {
	var problems []error
	if out.Result != nil {
		for _, r := range out.Result.Failed() {
			err := fmt.Errorf("%s: %w", r.Op, r.Err)
			switch {
			case r.Skipped, r.RolledBack:
				err = fault.Mark(fault.ErrHeld, err) // a consequence, classed by its cause
			case r.Op.Kind.ContainerOp() && r.Op.Kind != reconcile.OpRemove, r.Op.Kind == reconcile.OpBuild,
				r.Op.Kind == reconcile.OpCreateService, r.Op.Kind == reconcile.OpUpdateService:
				err = fault.Mark(fault.ErrHeld, err)
			}
			problems = append(problems, err)
		}
	}
	rem := out.Remaining
	for _, name := range slices.Sorted(maps.Keys(rem.Broken)) {
		problems = append(problems, fault.Mark(fault.ErrRefused, out.Desired.Broken[name]))
	}
	for _, name := range slices.Sorted(maps.Keys(rem.Conflicts)) {
		problems = append(problems, fault.Mark(fault.ErrRefused, fmt.Errorf("stack %s: conflict: %s", name, rem.Conflicts[name])))
	}
	for _, key := range slices.Sorted(maps.Keys(rem.Blocked)) {
		svc := out.Desired.Service(key)
		if perr, ok := out.FailedPulls[svc.Spec.Image]; ok {
			problems = append(problems, fmt.Errorf("service %s: %w", key, perr))
		} else {
			problems = append(problems, fault.Mark(fault.ErrRefused, fmt.Errorf("service %s: %s", key, rem.Blocked[key])))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(rem.Held)) {
		problems = append(problems, fault.Mark(fault.ErrHeld, fmt.Errorf("service %s: held back: %s", key, rem.Held[key])))
	}
	if len(problems) == 0 && !rem.Empty() {
		problems = append(problems, fmt.Errorf("not converged: %s", oneLine(rem.String())))
	}
	return fault.Join(problems...)
}

// pruneSnapshots keeps the current snapshot, those of revisions containers
// run and those whose files stack directories hold (a failed rollout puts
// them back).
func (c *Controller) pruneSnapshots(obs *reconcile.Observed, current *gitsource.Snapshot) {
	keep := map[string]bool{current.Revision.Commit: true}
	for _, f := range obs.Files {
		if rev, err := gitsource.ParseRevision(f.Revision); err == nil {
			keep[rev.Commit] = true
		}
	}
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

// oneLine joins the lines of s with "; ".
func oneLine(s string) string {
	return strings.Join(strings.Split(strings.TrimSpace(s), "\n"), "; ")
}

func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
