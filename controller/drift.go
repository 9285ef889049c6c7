package controller

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moor-dev/moor/reconcile"
)

// A poll answers two questions: has the source moved, and has the host
// drifted. The first costs a ref listing. The second costs an observe
// (four list calls), and the engine answers most of it without being
// asked: it reports a container of moor's that dies, stops or goes away as
// it happens (WatchEngine). So a poll that finds the revision the host was
// last found settled at (converged, nothing waiting on time or on the
// engine) ends after the ref listing, and the engine is observed only when
// a drift check is due:
//   - on the source's drift_interval (what events do not tell: an event
//     missed, a stack directory changed by hand);
//   - soon after an event about one of the source's containers, networks
//     or volumes that the source's own apply did not cause;
//   - on every poll while the engine's events are not followed (the
//     stream broke, or nothing subscribed), and once they are again;
//   - on every Trigger, and on every run that is not a poll.

// Delays of a drift check asked for by engine events: the check waits
// EventDelay after the first event, so that the burst one change makes
// (kill, die, stop, disconnect) costs one check, and comes at least
// EventGap after the last one, so that a container in a restart loop
// costs at most one check a second.
const (
	EventDelay = 250 * time.Millisecond
	EventGap   = time.Second
)

// driftState is what the controller knows of the host between drift
// checks. The loop's goroutine owns settled and lastCheck; WatchEngine's
// reads the rest.
type driftState struct {
	// settled is the revision the last run found the host converged to,
	// with nothing that a later poll must look at the engine for (held
	// failures, pull_policy always); "" when there is something.
	settled string
	// lastCheck is when a run last observed the engine (wall time).
	lastCheck time.Time

	// event: an engine event asked for a check that has not run yet.
	event atomic.Bool
	// watched: the engine's events are followed for this source.
	watched atomic.Bool
	// applying counts the applies whose ops are running: the events
	// they cause are the controller's own.
	applying atomic.Int32

	once sync.Once
	poke chan struct{} // the loop's: an event asks for a check

	mu sync.Mutex
	// networks and volumes are the names of the source's, as last
	// observed: the engine's events about them carry no labels.
	networks, volumes map[string]bool
}

func (c *Controller) initDrift() {
	c.drift.once.Do(func() { c.drift.poke = make(chan struct{}, 1) })
}

// CheckDrift asks the loop for a drift check soon (EventDelay), as an
// engine event about the source does. It never blocks; requests coalesce.
func (c *Controller) CheckDrift() {
	c.initDrift()
	c.drift.event.Store(true)
	select {
	case c.drift.poke <- struct{}{}:
	default:
	}
}

// Watched says whether the engine's events are followed for the source
// (WatchEngine does): while they are not, every poll is a drift check.
func (c *Controller) Watched(on bool) { c.drift.watched.Store(on) }

// checkDue says whether a poll at now must observe the engine, the last
// check having been at last (on the loop's clock). It takes the event
// that asked for a check, if any.
func (c *Controller) checkDue(now, last time.Time) bool {
	event := c.drift.event.Swap(false)
	every := c.Source.DriftInterval
	return event || !c.drift.watched.Load() || every <= 0 || last.IsZero() || !now.Before(last.Add(every))
}

// concerns says whether an engine event is about one of the source's
// containers, networks or volumes, and was not caused by its own apply.
func (c *Controller) concerns(ev reconcile.Event) bool {
	if c.drift.applying.Load() > 0 {
		// The apply observes the engine again when its ops are done:
		// what happened meanwhile is seen then.
		return false
	}
	switch ev.Kind {
	case reconcile.EventContainer:
		return ev.Source == c.Source.Name
	case reconcile.EventNetwork:
		c.drift.mu.Lock()
		defer c.drift.mu.Unlock()
		return c.drift.networks[ev.Name]
	case reconcile.EventVolume:
		c.drift.mu.Lock()
		defer c.drift.mu.Unlock()
		return c.drift.volumes[ev.Name]
	}
	return false
}

// observed notes a successful observe of the engine: a drift check.
func (c *Controller) observed(obs *reconcile.Observed) {
	c.drift.lastCheck = time.Now()
	nets, vols := map[string]bool{}, map[string]bool{}
	for _, n := range obs.Networks {
		if n.Source == c.Source.Name {
			nets[n.Name] = true
		}
	}
	for _, v := range obs.Volumes {
		if v.Source == c.Source.Name {
			vols[v.Name] = true
		}
	}
	c.drift.mu.Lock()
	c.drift.networks, c.drift.volumes = nets, vols
	c.drift.mu.Unlock()
}

// settle remembers whether the run left the host settled at its
// revision: converged, with nothing that depends on time or on the engine
// pending. Only then may a poll skip the engine.
func (c *Controller) settle(out *Outcome, err error) {
	c.drift.settled = ""
	if err != nil || c.WorkDir != "" || out == nil || out.Desired == nil || out.Remaining == nil {
		return
	}
	if !out.Remaining.Converged() || len(out.Pulled) > 0 || len(pullsFirst(out.Desired)) > 0 ||
		len(c.decisions().Failures) > 0 {
		return
	}
	c.drift.settled = out.Desired.Revision
}

// quiet says whether a poll of out's revision can end without observing
// the engine: the host was settled at that very revision.
func (c *Controller) quiet(out *Outcome) bool {
	return c.WorkDir == "" && c.drift.settled != "" && out.Desired != nil && out.Desired.Revision == c.drift.settled
}

// Poll runs the pipeline as the loop's turn does: as Apply, except that
// without check, a source that resolves to the revision the host was
// last found settled at ends after the revision is resolved (one ref
// listing), with no Engine API call, no plan, and Outcome.Quiet set.
func (c *Controller) Poll(ctx context.Context, check bool) (*Outcome, error) {
	started := time.Now()
	out, err := c.apply(ctx, check)
	c.record(started, out, err)
	c.deployEnded(out, err)
	if out != nil {
		c.clock.mark("record")
		out.Stages = c.clock.stages
	}
	return out, err
}
