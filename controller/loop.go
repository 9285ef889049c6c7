package controller

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/reconcile"
)

// Clock is the time the loop runs on; tests drive a fake one.
type Clock = reconcile.Clock

// Backoff bounds after a failed run, by class: an engine that does not
// answer is usually back within seconds (a restart); a repository, a
// registry or the disk may take longer.
const (
	backoffMin       = 5 * time.Second
	backoffMax       = 5 * time.Minute
	engineBackoffMax = time.Minute
)

// TriggerGap is the least time between two triggers acted on: a trigger
// that comes sooner after the last one waits for the rest of the gap, and
// any that come meanwhile join it. One push deploys at once, and so does
// the next one a second later (a deploy takes longer than that); a flood
// of hooks (replayed, or from a forge gone wild) costs one run per gap,
// and a run of an unchanged revision is one ref listing.
const TriggerGap = time.Second

// Loop converges the source on every trigger until ctx is done: at start,
// on its schedule (jittered by up to a tenth of the interval so that many
// hosts polling one server spread out), and on Trigger. Triggers coalesce
// into one pending run, and are acted on at most once per TriggerGap; two
// runs never overlap.
//
// What follows a failed run depends on its class (fault.Of):
//   - refused as a whole (a revision that does not load, an unsigned
//     commit): the same revision is not tried again; each tick costs one
//     ref listing until the source moves;
//   - held back or partly refused (a failed rollout, a broken stack): the
//     schedule goes on as usual, since holds keep their own backoff;
//   - anything else (engine, repository, registry): a growing, jittered
//     backoff, which a new revision ends.
//
// A trigger runs at once (or at the end of TriggerGap after the last one).
// So does TriggerPush, except after such a failure: then, like a tick, it
// runs only when the source has moved to another revision, which costs one
// ref listing (or when the failed run never learnt its revision), so that
// a replayed webhook does not undo the backoff.
//
// With image_updates, the image schedule is a trigger of its own: its turn
// (or TriggerImageCheck) runs the pipeline with a check of the registry
// for tags that moved (images.go). Like a tick, it waits out a backoff;
// it stays pending until a run takes it.
//
// A turn of the schedule is a Poll: unless a drift check is due (see
// drift.go), a source that has not moved on a host settled at its revision
// costs one ref listing and no Engine API call. A drift check asked for by
// an engine event (CheckDrift) runs EventDelay after it, and at least
// EventGap after the last one; it is a run like a tick's, and waits out a
// backoff as a tick does.
//
// Every run reads the source's suspensions and deploy windows (holds.go):
// what they hold is planned, not applied, whatever triggered the run. A
// run whose ops wait for a closed window makes the loop run once more when
// the window opens (on clock); the triggers that came meanwhile have
// coalesced into runs that held their ops as well.
//
// An apply in flight when ctx ends finishes (within the source's timeout):
// a stop never cuts a replacement in half on purpose, and one cut by a
// kill is repaired by the next run.
//
// The loop is where a run's failure is handled, so it is where it is
// logged: once per distinct failure.
func (c *Controller) Loop(ctx context.Context, sched cron.Schedule, clock Clock) {
	if clock == nil {
		clock = reconcile.RealClock{}
	}
	c.initTrigger()
	c.initDrift()
	c.initImages()
	c.timeNow = clock.Now
	c.Trigger() // startup
	var st loopState
	// imagesDue: the next run checks the registry for tags that moved
	// (image_updates), on the image schedule or TriggerImageCheck.
	imageSched := c.imageSchedule()
	var imagesDue bool
	var imagesAt time.Time
	if imageSched != nil {
		imagesAt = imageSched.Next(clock.Now())
	}
	// pending: a trigger waits for triggerAt, the end of the gap after
	// the last trigger acted on.
	var pending bool
	var triggerAt time.Time
	// drifted: an engine event's drift check waits for driftAt.
	var drifted bool
	var driftAt, lastEventRun time.Time
	// windowAt: a run's ops wait for the deploy window, which opens then;
	// one run at the opening applies them, however many triggers came
	// while it was closed.
	var windowAt time.Time
	for {
		now := clock.Now()
		next := sched.Next(now)
		wait := next.Sub(now)
		wait += time.Duration(rand.Int64N(int64(wait)/10 + 1))
		if pending {
			wait = max(min(wait, triggerAt.Sub(now)), 0)
		}
		if drifted {
			wait = max(min(wait, driftAt.Sub(now)), 0)
		}
		if imageSched != nil && !imagesDue {
			wait = max(min(wait, imagesAt.Sub(now)), 0)
		}
		if !windowAt.IsZero() {
			wait = max(min(wait, windowAt.Sub(now)), 0)
		}
		tick := false
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
			pending = true
		case <-c.drift.poke:
			if !drifted {
				drifted = true
				driftAt = now.Add(EventDelay)
				if !lastEventRun.IsZero() {
					driftAt = later(driftAt, lastEventRun.Add(EventGap))
				}
			}
		case <-c.images.poke:
			imagesDue = imageSched != nil
		case <-clock.After(wait):
			tick = true
		}
		now = clock.Now()
		if imageSched != nil && !now.Before(imagesAt) {
			imagesDue, imagesAt = true, imageSched.Next(now)
		}
		triggered := pending && !now.Before(triggerAt)
		eventDue := drifted && !now.Before(driftAt)
		windowDue := !windowAt.IsZero() && !now.Before(windowAt)
		if windowDue {
			windowAt = time.Time{}
		}
		if !tick && !triggered && !eventDue && !imagesDue && !windowDue {
			continue // the trigger waits for the end of the gap, the event for its delay
		}
		if eventDue {
			drifted, lastEventRun = false, now
		}
		forced := false
		if triggered {
			triggerAt = now.Add(TriggerGap)
			forced = c.forced.Swap(false) || st.rev == ""
		}
		if st.waiting(now) && !forced && !c.moved(ctx, st.rev) {
			// The source has not moved: that answers a push, but not
			// a Trigger, nor a push when there is no revision to
			// compare with.
			pending = pending && (st.rev == "" || c.forced.Load())
			c.Log.Debug("not retried yet", zap.Time("until", st.retryAt), zap.String("revision", st.rev),
				zap.Bool("stalled", st.stalled), zap.Bool("triggered", triggered))
			continue
		}
		// This run answers every trigger so far.
		pending = false
		c.forced.Store(false)
		select {
		case <-c.trigger:
		default:
		}
		due := c.checkDue(now, st.checked) // takes the event's request, if any
		check := forced || due || imagesDue
		// An image check compares with the revision the last run loaded:
		// a commit in between is deployed as such.
		c.images.run, c.images.rev = imagesDue, c.loaded.rev
		imagesDue = false
		out, err := c.applyDetached(ctx, check)
		c.images.run = false
		if out != nil && out.Observed != nil {
			st.checked = now
		}
		if out != nil && !out.WindowOpens.IsZero() {
			windowAt = out.WindowOpens
		}
		st.next(out, err, clock.Now())
		c.logRun(out, err, &st)
		if c.Ran != nil {
			c.Ran(out, err)
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// loopState is what the loop remembers of the last failed run.
type loopState struct {
	backoff time.Duration
	retryAt time.Time
	// stalled: the revision rev was refused as a whole; it waits for
	// another one.
	stalled bool
	rev     string
	// logged is the last failure logged, so that it is logged once.
	logged string
	// checked is when a run last observed the engine (a drift check).
	checked time.Time
}

// waiting reports whether a tick at now must not run the pipeline.
func (s *loopState) waiting(now time.Time) bool {
	return s.stalled || s.backoff > 0 && now.Before(s.retryAt)
}

// next updates the state with the outcome of a run.
func (s *loopState) next(out *Outcome, err error, now time.Time) {
	s.rev = ""
	if out != nil && out.Snapshot != nil {
		s.rev = out.Snapshot.Revision.String()
	}
	class := fault.Of(err)
	wholeRun := out == nil || out.Plan == nil
	switch {
	case err == nil, class == fault.Held, class == fault.Refused && !wholeRun:
		s.backoff, s.stalled = 0, false
	case class == fault.Refused && s.rev != "":
		s.backoff, s.stalled = 0, true
	default:
		limit := backoffMax
		if class == fault.EngineUnavailable {
			limit = engineBackoffMax
		}
		s.stalled = false
		s.backoff = min(max(2*s.backoff, backoffMin), limit)
		s.backoff += time.Duration(rand.Int64N(int64(s.backoff) / 5))
		s.retryAt = now.Add(s.backoff)
	}
}

// logRun logs the outcome of one run: changes at info, nothing for a
// no-op, a failure or reported drift once until it changes.
func (c *Controller) logRun(out *Outcome, err error, st *loopState) {
	log := c.Log
	if st.rev != "" {
		log = log.With(zap.String("revision", st.rev))
	}
	for _, w := range out.Warnings() {
		log.Warn(w)
	}
	switch {
	case err != nil:
		class := fault.Of(err)
		key := string(class) + err.Error()
		if key == st.logged {
			log.Debug("run failed again", zap.String("class", string(class)))
			return
		}
		st.logged = key
		fields := []zap.Field{zap.String("class", string(class)), zap.Error(err)}
		switch {
		case st.stalled:
			fields = append(fields, zap.String("next", "a new revision"))
		case st.backoff > 0:
			fields = append(fields, zap.Duration("backoff", st.backoff))
		}
		log.Warn("run failed", fields...)
	case out != nil && out.Plan != nil && len(out.Plan.Drift) > 0:
		var repair []string
		for _, op := range out.Plan.Drift {
			repair = append(repair, op.String())
		}
		drift := strings.Join(repair, "\n")
		if drift == st.logged {
			return
		}
		st.logged = drift
		log.Warn("drift: the host no longer matches the revision; not repaired (drift: report)", zap.Strings("repair", repair))
	case out != nil && out.Result == nil && out.Plan != nil && len(out.Plan.Waiting) > 0:
		var held []string
		for _, op := range out.Plan.Waiting {
			held = append(held, op.String()+": "+out.Plan.Waits[op.Stack])
		}
		key := strings.Join(held, "\n")
		if key == st.logged {
			return
		}
		st.logged = key
		log.Info("changes held, not applied (suspended, waiting for canary hosts or for the deploy window)", zap.Strings("held", held))
	case out != nil && out.Result != nil:
		st.logged = ""
		log.Info("applied", zap.Int("ops", len(out.Result.Ops)), stagesField(out.Stages))
	default:
		st.logged = ""
		if out != nil {
			log.Debug("converged", stagesField(out.Stages))
		} else {
			log.Debug("converged")
		}
	}
}

// applyDetached runs one Poll that a cancelled ctx does not cut short.
func (c *Controller) applyDetached(ctx context.Context, check bool) (*Outcome, error) {
	timeout := c.Source.Timeout
	if timeout <= 0 {
		timeout = config.DefaultTimeout
	}
	runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	return c.Poll(runCtx, check)
}

// moved reports whether the source now resolves to another revision than
// rev: a new commit ends a backoff or a stall. It costs one ref listing.
func (c *Controller) moved(ctx context.Context, rev string) bool {
	if c.WorkDir != "" || rev == "" {
		return false
	}
	got, err := c.git.Resolve(ctx)
	return err == nil && got.String() != rev
}

// Trigger asks for a run as soon as the current one (if any) ends and
// TriggerGap has passed since the last trigger acted on. It never blocks:
// triggers that arrive while one is pending coalesce into it.
func (c *Controller) Trigger() {
	c.initTrigger()
	c.forced.Store(true)
	c.poke()
}

// TriggerPush is Trigger for news that the source was pushed to: a
// webhook, which anyone who saw one valid delivery can replay. It is
// acted on as a Trigger, except that after a failed run (while the loop
// backs off or waits for another revision) it runs the pipeline only if
// the source did move.
func (c *Controller) TriggerPush() {
	c.initTrigger()
	c.poke()
}

func (c *Controller) poke() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

func (c *Controller) initTrigger() {
	c.triggerOnce.Do(func() { c.trigger = make(chan struct{}, 1) })
}

// triggerState is embedded in Controller.
type triggerState struct {
	triggerOnce sync.Once
	trigger     chan struct{}
	// forced: a Trigger, not only a TriggerPush, is pending.
	forced atomic.Bool
	// retry: the next run retries held services (RetryHeld).
	retry atomic.Bool
}

// WatchLocal triggers a run whenever a ref of the source's repository
// changes, for a repository on this host (a bare repository people push
// to): a push deploys at once, whatever the interval. It returns
// gitsource.ErrNotLocal for a remote repository, and otherwise runs until
// ctx is done.
func (c *Controller) WatchLocal(ctx context.Context) error {
	return c.git.Watch(ctx, c.Trigger)
}
