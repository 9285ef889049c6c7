package controller_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/reconcile"
)

// fakeClock is the loop's time. The loop asks it for one wait per turn
// (After); the test ends the latest wait with fire, which moves the clock to
// the wait's end. Nothing else moves it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waits   int // After calls so far
	ch      chan time.Time
	end     time.Time
	changed chan struct{} // closed at the next After
}

var _ controller.Clock = (*fakeClock)(nil)

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits++
	c.ch, c.end = make(chan time.Time, 1), c.now.Add(d)
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
	return c.ch
}

func (c *fakeClock) turns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waits
}

// awaitTurn waits until the loop has begun its turn-th wait, or fails the
// test after a timeout.
func (c *fakeClock) awaitTurn(t *testing.T, turn int) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		if c.waits >= turn {
			c.mu.Unlock()
			return
		}
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("the loop did not begin its wait number %d", turn)
		}
	}
}

// fire ends the latest wait, moving the clock to its end, and returns how
// long the wait was.
func (c *fakeClock) fire(t *testing.T) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		t.Fatal("fire: the loop is not waiting")
	}
	d := c.end.Sub(c.now)
	c.now = c.end
	c.ch <- c.now
	c.ch = nil
	return d
}

// every is a schedule of a fixed interval, which the test can change.
type every struct{ d atomic.Int64 }

func (e *every) Next(t time.Time) time.Time { return t.Add(time.Duration(e.d.Load())) }
func (e *every) set(d time.Duration)        { e.d.Store(int64(d)) }

// loop is a controller's Loop running on a fake clock.
type loop struct {
	h     *harness
	clock *fakeClock
	sched *every
}

func startLoop(h *harness, interval time.Duration) *loop {
	l := &loop{h: h, clock: &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, sched: &every{}}
	l.sched.set(interval)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ctl.Loop(ctx, l.sched, l.clock)
	}()
	h.t.Cleanup(func() {
		cancel()
		<-done
	})
	return l
}

// idle waits until the loop has begun its turn-th wait: every turn before
// it, run or skip, is over. A loop that takes more turns fails the test.
func (l *loop) idle(turn int) {
	l.h.t.Helper()
	l.clock.awaitTurn(l.h.t, turn)
	if got := l.clock.turns(); got != turn {
		l.h.t.Fatalf("the loop took %d turns, want %d", got, turn)
	}
}

// tick ends the loop's wait and waits for the turn to be over. It reports
// whether the turn ran the pipeline.
func (l *loop) tick() bool {
	l.h.t.Helper()
	runs, turn := l.h.runs()[""], l.clock.turns()
	l.clock.fire(l.h.t)
	l.idle(turn + 1)
	return l.h.runs()[""] > runs
}

// nextRun ticks until a turn runs the pipeline, and returns the clock's
// time then and how many ticks were skipped before it.
func (l *loop) nextRun() (at time.Time, skipped int) {
	l.h.t.Helper()
	for ; skipped < 1000; skipped++ {
		if l.tick() {
			return l.clock.Now(), skipped
		}
	}
	l.h.t.Fatal("no run in 1000 ticks")
	return time.Time{}, 0
}

func TestLoopRunsAtStartOnTriggerAndOnSchedule(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	l := startLoop(h, time.Minute)

	// Startup: one run, before any tick.
	l.idle(2)
	if got := h.runs(); got["success"] != 1 || got[""] != 1 {
		t.Fatalf("runs after startup: %v, want one success", got)
	}
	h.container("web-app-1")

	// A trigger right after the startup run waits out TriggerGap, then
	// runs.
	h.ctl.Trigger()
	l.idle(3)
	if got := h.runs()[""]; got != 1 {
		t.Fatalf("%d runs before the trigger's gap ended, want 1", got)
	}
	if d := l.clock.fire(t); d != controller.TriggerGap {
		t.Fatalf("the trigger waited %s, want %s", d, controller.TriggerGap)
	}
	l.idle(4)
	if got := h.runs(); got["noop"] != 1 || got[""] != 2 {
		t.Fatalf("runs after a trigger: %v; want one more (a no-op)", got)
	}

	// Triggers while a run is in flight coalesce into one more run, a gap
	// after the last.
	entered, release := h.rt.hold()
	h.ctl.Trigger()
	l.idle(5)
	l.clock.fire(t)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the triggered run did not start")
	}
	for range 5 {
		h.ctl.Trigger()
	}
	release()
	l.idle(7) // the held run's turn, then one that takes the pending trigger
	if got := h.runs()[""]; got != 3 {
		t.Fatalf("%d runs before the gap after the held one ended, want 3", got)
	}
	if d := l.clock.fire(t); d != controller.TriggerGap {
		t.Fatalf("the coalesced trigger waited %s, want %s", d, controller.TriggerGap)
	}
	l.idle(8)
	if got := h.runs()[""]; got != 4 {
		t.Fatalf("%d runs after 5 triggers during a run, want 4 (startup, trigger, held, one coalesced)", got)
	}

	// The schedule: a tick after the interval, jittered by at most a tenth.
	before := l.clock.Now()
	if !l.tick() {
		t.Fatal("a scheduled tick did not run")
	}
	if waited := l.clock.Now().Sub(before); waited < time.Minute || waited > time.Minute+6*time.Second {
		t.Errorf("the scheduled run came after %s, want 1m to 1m6s", waited)
	}
	if got := h.runs(); got[""] != 5 || got["noop"] != 4 {
		t.Errorf("runs: %v, want 5 (4 no-ops)", got)
	}
	if n := len(h.records()); n != 1 {
		t.Errorf("%d ledger records, want the first apply's only", n)
	}
}

func TestLoopBacksOffAfterFailure(t *testing.T) {
	t.Parallel()
	// app:missing cannot be pulled: every run fails.
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:missing")})
	l := startLoop(h, time.Second)
	l.idle(2)
	if got := h.runs(); got[""] != 1 || got["success"] != 0 {
		t.Fatalf("startup: %v, want one failed run", got)
	}
	failed := l.clock.Now()

	// Ticks within the backoff (5s, +20% jitter) are skipped; ticks are 1s
	// to 1.1s apart.
	at, skipped := l.nextRun()
	gap1 := at.Sub(failed)
	if gap1 < 5*time.Second || gap1 > 7300*time.Millisecond || skipped < 4 {
		t.Fatalf("first retry after %s (%d ticks skipped), want 5s to 7.3s", gap1, skipped)
	}
	// It failed again: the backoff doubles.
	failed = at
	at, _ = l.nextRun()
	gap2 := at.Sub(failed)
	if gap2 < 10*time.Second || gap2 > 16*time.Second {
		t.Fatalf("second retry after %s, want 10s to 16s (the first was %s)", gap2, gap1)
	}

	// A push does not undo the backoff while the source stays where it
	// is: it costs a ref listing, not a run.
	failed = at
	turn := l.clock.turns()
	h.ctl.TriggerPush()
	l.idle(turn + 1)
	if got := h.runs()[""]; got != 3 || !l.clock.Now().Equal(failed) {
		t.Fatalf("%d runs at %s after a trigger in the backoff, want 3 at %s", got, l.clock.Now(), failed)
	}

	// A new commit ends the backoff at the next tick.
	rev2 := h.commit("another missing image", map[string]string{"web/compose.yaml": stack("app=app:missing2")})
	at, skipped = l.nextRun()
	if skipped != 0 || at.Sub(failed) > 1100*time.Millisecond {
		t.Fatalf("a new commit ran after %d skipped ticks, %s; want the first tick", skipped, at.Sub(failed))
	}
	if st := h.status(); st.Revision != rev2 || st.Result == controller.ResultSuccess {
		t.Fatalf("status after the new commit: %s %s, want a failure of %s", st.Revision, st.Result, rev2)
	}

	// The backoff grows to its cap of 5m (+20% jitter) and stays there.
	// Coarser ticks keep the test short.
	l.sched.set(30 * time.Second)
	var gaps []time.Duration
	for range 9 {
		failed = at
		at, _ = l.nextRun()
		gaps = append(gaps, at.Sub(failed))
	}
	for _, g := range gaps[len(gaps)-3:] {
		if g < 5*time.Minute || g > 6*time.Minute+33*time.Second {
			t.Fatalf("retries after %v: the last ones should be 5m to 6m33s apart", gaps)
		}
	}

	// A success resets it: the next failure is retried after 5s again.
	h.fake.Publish("app:missing2", "sha256:2")
	turn = l.clock.turns()
	h.ctl.Trigger()
	l.idle(turn + 1)
	if st := h.status(); st.Result != controller.ResultSuccess {
		t.Fatalf("status after publishing the image: %s %s", st.Result, st.Error)
	}
	l.sched.set(time.Second)
	h.commit("a third missing image", map[string]string{"web/compose.yaml": stack("app=app:missing3")})
	if !l.tick() { // the 30s wait begun before the interval changed
		t.Fatal("a new commit after a success did not run at the next tick")
	}
	if st := h.status(); st.Result == controller.ResultSuccess {
		t.Fatal("app:missing3 was applied")
	}
	failed = l.clock.Now()
	at, _ = l.nextRun()
	if gap := at.Sub(failed); gap < 5*time.Second || gap > 7300*time.Millisecond {
		t.Fatalf("after a success, the first retry came after %s, want 5s to 7.3s", gap)
	}
}

// TestLoopCoalescesABurstOfPushes: a hundred webhooks during a run cost
// one more run, a TriggerGap after the last; a push once the gap is over
// runs at once.
func TestLoopCoalescesABurstOfPushes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	l := startLoop(h, time.Hour)
	l.idle(2)

	entered, release := h.rt.hold()
	h.ctl.TriggerPush()
	l.idle(3)
	if d := l.clock.fire(t); d != controller.TriggerGap {
		t.Fatalf("a push right after the startup run waited %s, want %s", d, controller.TriggerGap)
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the pushed run did not start")
	}
	for range 100 {
		h.ctl.TriggerPush()
	}
	release()
	l.idle(5) // the held run's turn, then one that takes the burst
	if d := l.clock.fire(t); d != controller.TriggerGap {
		t.Fatalf("the burst waited %s, want %s", d, controller.TriggerGap)
	}
	l.idle(6)
	if got := h.runs()[""]; got != 3 {
		t.Fatalf("%d runs, want 3: startup, the push, one for the burst of 100", got)
	}

	// Nothing is left pending: the next wait is the schedule's.
	if d := l.clock.fire(t); d < time.Hour {
		t.Fatalf("the loop waited %s after the burst's run, want the hour of its schedule", d)
	}
	l.idle(7)
	start := l.clock.Now()
	h.ctl.TriggerPush()
	l.idle(8)
	if got := h.runs()[""]; got != 5 || !l.clock.Now().Equal(start) {
		t.Fatalf("%d runs at %s, want 5 at %s: a push long after the last runs at once", got, l.clock.Now(), start)
	}
}

// TestLoopStallsOnARefusedRevision: a revision refused as a whole is not
// tried again, however long it stays (each tick costs a ref listing), and
// its refusal is logged once; a new commit runs at the next tick.
func TestLoopStallsOnARefusedRevision(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	core, logs := observer.New(zap.InfoLevel)
	h.ctl.Log = zap.New(core)
	l := startLoop(h, time.Minute)
	l.idle(2)
	h.commit("remove everything", map[string]string{"web/compose.yaml": ""})
	if !l.tick() {
		t.Fatal("the new revision did not run at the next tick")
	}
	if st := h.status(); st.Result != controller.ResultRefused || st.ErrorClass != string(fault.Refused) {
		t.Fatalf("status: %s (%s), want refused (refused)", st.Result, st.ErrorClass)
	}
	for range 30 { // half an hour: no backoff lets it through
		if l.tick() {
			t.Fatal("a refused revision was run again")
		}
	}
	if n := logs.FilterMessage("run failed").Len(); n != 1 {
		t.Errorf("the refusal was logged %d times, want once", n)
	}
	h.commit("restore", map[string]string{"web/compose.yaml": stack("app=app:2")})
	if !l.tick() {
		t.Fatal("a new commit after a refused one did not run at the next tick")
	}
	if st := h.status(); st.Result != controller.ResultSuccess {
		t.Fatalf("status after the fix: %s %s", st.Result, st.Error)
	}
}

// TestLoopKeepsItsScheduleWhileHeld: a failed rollout is held on its own
// schedule, so the loop does not back off: the next tick runs (and finds
// the service held).
func TestLoopKeepsItsScheduleWhileHeld(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": healthchecked("app:1")})
	h.fake.Publish("app:bad", "sha256:bad")
	h.fake.UnhealthyImage("app:bad")
	l := startLoop(h, time.Second)
	l.idle(2)
	h.commit("unhealthy", map[string]string{"web/compose.yaml": healthchecked("app:bad")})
	if !l.tick() {
		t.Fatal("the new revision did not run")
	}
	if st := h.status(); st.ErrorClass != string(fault.Held) || len(st.Failures) != 1 {
		t.Fatalf("after the failed rollout: class %q, failures %v; want held", st.ErrorClass, st.Failures)
	}
	creates := h.calls("CreateContainer")
	for range 3 {
		if !l.tick() {
			t.Fatal("a tick after a held failure did not run")
		}
	}
	if h.calls("CreateContainer") != creates {
		t.Error("a held service was tried again before its backoff ended")
	}
	if st := h.status(); len(st.Held) != 1 || st.ErrorClass != string(fault.Held) {
		t.Errorf("status: held %v, class %q; want web/app held", st.Held, st.ErrorClass)
	}
}

// TestLoopBacksOffLessForTheEngine: an engine that does not answer is
// retried with a backoff capped at a minute, not five.
func TestLoopBacksOffLessForTheEngine(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	h.fake.FailAlways("Observe", "*", fault.Mark(fault.ErrEngineUnavailable, errors.New("dial unix docker.sock: connection refused")))
	l := startLoop(h, 10*time.Second)
	l.idle(2)
	if st := h.status(); st.ErrorClass != string(fault.EngineUnavailable) {
		t.Fatalf("class %q, want engine-unavailable", st.ErrorClass)
	}
	var gaps []time.Duration
	at := l.clock.Now()
	for range 8 {
		next, _ := l.nextRun()
		gaps = append(gaps, next.Sub(at))
		at = next
	}
	for _, g := range gaps[len(gaps)-3:] {
		if g < time.Minute || g > 80*time.Second {
			t.Fatalf("retries after %v: the last ones should be 1m to 1m20s apart", gaps)
		}
	}
}

// engineEvents is the engine's stream of events, which the test feeds and
// breaks. Each subscription is announced on subscribed.
type engineEvents struct {
	mu         sync.Mutex
	evs        chan reconcile.Event
	errc       chan error
	subscribed chan struct{}
}

func newEngineEvents() *engineEvents { return &engineEvents{subscribed: make(chan struct{}, 16)} }

func (e *engineEvents) Events(ctx context.Context) (<-chan reconcile.Event, <-chan error, error) {
	e.mu.Lock()
	e.evs, e.errc = make(chan reconcile.Event), make(chan error, 1)
	evs, errc := e.evs, e.errc
	e.mu.Unlock()
	e.subscribed <- struct{}{}
	return evs, errc, nil
}

// send delivers ev; it returns once the watcher has taken it.
func (e *engineEvents) send(t *testing.T, ev reconcile.Event) {
	t.Helper()
	e.mu.Lock()
	evs := e.evs
	e.mu.Unlock()
	select {
	case evs <- ev:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing took the engine's event")
	}
}

// cut ends the current subscription, as an engine restart does.
func (e *engineEvents) cut() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errc <- errors.New("unexpected EOF")
}

func (e *engineEvents) awaitSubscription(t *testing.T) {
	t.Helper()
	select {
	case <-e.subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher did not subscribe to the engine's events")
	}
}

// watch follows ev for the harness's controller until the test ends;
// its backoffs pass at once.
func (h *harness) watch(ev *engineEvents) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		controller.WatchEngine(ctx, ev, []*controller.Controller{h.ctl}, zap.NewNop(), fakeclock.NewAuto())
	}()
	h.t.Cleanup(func() {
		cancel()
		<-done
	})
	ev.awaitSubscription(h.t)
}

func driftEvery(d time.Duration) func(*config.Source) {
	return func(s *config.Source) { s.DriftInterval = d }
}

// engineCalls is how many calls the engine has had, of any method.
func (h *harness) engineCalls() int {
	n := 0
	for _, c := range h.fake.Calls() {
		n += c
	}
	return n
}

// awaitEventCheck waits for the drift check an event asked for: the loop
// waits EventDelay for it, then runs it.
func (l *loop) awaitEventCheck(turn int) {
	l.h.t.Helper()
	l.idle(turn + 1)
	if d := l.clock.fire(l.h.t); d != controller.EventDelay {
		l.h.t.Fatalf("the event's check waited %s, want %s", d, controller.EventDelay)
	}
	l.idle(turn + 2)
}

// TestLoopPollsWithoutTheEngine: with the engine's events followed, a poll
// of an unchanged source on a converged host makes no engine call; the
// engine is checked on the drift interval, and soon after an event about
// one of the source's containers, which repairs what it reports.
func TestLoopPollsWithoutTheEngine(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")}, driftEvery(10*time.Minute))
	l := startLoop(h, time.Minute)
	l.idle(2)
	ev := newEngineEvents()
	h.watch(ev) // a drift check once subscribed: what happened before was not reported
	l.awaitEventCheck(2)
	checked := l.clock.Now()

	observes, checks := h.calls("Observe"), 0
	for range 30 {
		calls := h.engineCalls()
		if !l.tick() {
			t.Fatal("a tick did not poll")
		}
		due := l.clock.Now().Sub(checked) >= 10*time.Minute
		switch got := h.calls("Observe") - observes; {
		case due && got != 1:
			t.Fatalf("a poll %s after the last drift check observed the engine %d times, want once", l.clock.Now().Sub(checked), got)
		case due:
			checked, observes, checks = l.clock.Now(), observes+1, checks+1
		case h.engineCalls() != calls:
			t.Fatalf("a poll %s after the last drift check made %d engine calls, want none", l.clock.Now().Sub(checked), h.engineCalls()-calls)
		}
	}
	if checks < 2 {
		t.Fatalf("%d drift checks over 30 polls a minute apart, want one per 10m", checks)
	}
	st := h.status()
	if st.Result != controller.ResultNoop || st.LastDriftCheck.IsZero() || st.LastDriftCheck.After(st.LastRun) {
		t.Errorf("status: result %s, last run %s, last drift check %s; want a no-op and the check's time", st.Result, st.LastRun, st.LastDriftCheck)
	}

	// A container stopped by hand: the engine says so, and the check it
	// asks for starts it again, between two polls.
	h.fake.StopByHand("web-app-1")
	turn, starts := l.clock.turns(), h.calls("StartContainer")
	ev.send(t, reconcile.Event{Kind: reconcile.EventContainer, Action: "die", Name: "web-app-1", Stack: "web", Source: source})
	l.awaitEventCheck(turn)
	if h.calls("StartContainer") != starts+1 || h.container("web-app-1").State != reconcile.StateRunning {
		t.Fatalf("the event's check did not start web-app-1: %s", h.fake)
	}
	// An event of another source's is not this one's business.
	calls := h.engineCalls()
	ev.send(t, reconcile.Event{Kind: reconcile.EventContainer, Action: "die", Name: "web-app-1", Stack: "web", Source: "other"})
	if l.tick(); h.engineCalls() != calls {
		t.Errorf("another source's event cost %d engine calls", h.engineCalls()-calls)
	}
}

// TestLoopChecksEveryPollWithoutEvents: while the engine's events are not
// followed (the stream broke), every poll observes the engine; once they
// are again, a drift check finds what happened meanwhile.
func TestLoopChecksEveryPollWithoutEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")}, driftEvery(time.Hour))
	l := startLoop(h, time.Minute)
	l.idle(2)
	// Nothing follows the events yet: every poll is a check.
	for range 2 {
		observes := h.calls("Observe")
		l.tick()
		if h.calls("Observe") != observes+1 {
			t.Fatal("a poll while events are not followed did not observe the engine")
		}
	}
	ev := newEngineEvents()
	turn := l.clock.turns()
	h.watch(ev)
	l.awaitEventCheck(turn)
	observes := h.calls("Observe")
	l.tick()
	if h.calls("Observe") != observes {
		t.Fatal("a poll with events followed observed the engine")
	}

	// The engine restarts: the stream breaks, and the watcher subscribes
	// again (its backoff passes at once here). Whether the drift check of
	// the reconnect comes before or after a tick, the container removed
	// meanwhile is created again without waiting for the hour.
	h.fake.RemoveByHand("web-app-1")
	creates := h.calls("CreateContainer")
	ev.cut()
	ev.awaitSubscription(t)
	for i := 0; h.calls("CreateContainer") == creates; i++ {
		if i == 3 {
			t.Fatalf("the container removed while the events were cut was not created again: %s", h.fake)
		}
		turn := l.clock.turns()
		l.clock.fire(t)
		l.clock.awaitTurn(t, turn+1)
	}
	h.container("web-app-1")
}

// TestLoopChecksWhileHeld: a service held back by a failed rollout keeps
// its retry schedule: the host is not settled, so every poll plans against
// the engine, as the hold's end is a matter of time.
func TestLoopChecksWhileHeld(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": healthchecked("app:1")}, driftEvery(time.Hour))
	h.fake.Publish("app:bad", "sha256:bad")
	h.fake.UnhealthyImage("app:bad")
	l := startLoop(h, 30*time.Second)
	l.idle(2)
	ev := newEngineEvents()
	h.watch(ev)
	l.awaitEventCheck(2)
	h.commit("unhealthy", map[string]string{"web/compose.yaml": healthchecked("app:bad")})
	if !l.tick() {
		t.Fatal("the new revision did not run")
	}
	if st := h.status(); len(st.Failures) != 1 {
		t.Fatalf("failures %v, want web/app's", st.Failures)
	}
	for range 4 {
		observes := h.calls("Observe")
		l.tick()
		if h.calls("Observe") == observes {
			t.Fatal("a poll with a held failure did not plan against the engine")
		}
	}
	if st := h.status(); len(st.Held) != 1 {
		t.Errorf("held %v, want web/app", st.Held)
	}
}

// TestTriggerGapIsShorterThanADeploy: the gap the loop tests above wait
// out is at most a second, so a push made after the previous deploy ended
// (a deploy takes longer) never waits for it.
func TestTriggerGapIsShorterThanADeploy(t *testing.T) {
	if controller.TriggerGap > time.Second {
		t.Fatalf("TriggerGap is %s: a push right after a deploy would wait up to that long", controller.TriggerGap)
	}
}
