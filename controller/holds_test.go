package controller_test

import (
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/reconcile"
)

func windows(ws ...config.Window) func(*config.Source) {
	return func(s *config.Source) { s.Windows = ws }
}

// gauge is the value of the metric name with the labels, or -1 when it
// has no such series.
func (h *harness) gauge(name string, labels map[string]string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && lp.GetValue() != want {
					continue metrics
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// statusText is `moor status` as the running controller serves it.
func (h *harness) statusText() string {
	var b strings.Builder
	controller.WriteReport(&b, []controller.SourceReport{*h.ctl.Report()}, time.Now())
	return b.String()
}

// TestLoopAppliesWhenTheWindowOpens: inside a deny window, the startup run
// and a trigger plan the first deploy and hold it; the loop's next turn is
// the window's opening, not its schedule's, and that run applies it.
func TestLoopAppliesWhenTheWindowOpens(t *testing.T) {
	t.Parallel()
	// The clock starts at 2030-01-01T00:00:00Z, inside 00:00-02:00.
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")},
		windows(config.Window{Kind: "deny", Schedule: "0 0 * * *", Duration: 2 * time.Hour}))
	l := startLoop(h, 10*time.Hour)
	l.idle(2)
	const why = "waiting for window (opens at 2030-01-01T02:00:00Z)"
	held := func(when string) {
		t.Helper()
		if n := h.calls("CreateContainer"); n != 0 {
			t.Fatalf("%s: %d containers created inside a deny window", when, n)
		}
		st := h.status()
		if st.Result != controller.ResultWaiting || st.Window != why || len(st.Waiting) == 0 ||
			!strings.HasSuffix(st.Waiting[len(st.Waiting)-1], ": "+why) {
			t.Fatalf("%s: status %s, window %q, waiting %q; want the ops held %s", when, st.Result, st.Window, st.Waiting, why)
		}
		if text := h.statusText(); !strings.Contains(text, why) || !strings.Contains(text, controller.StateWaiting) {
			t.Fatalf("%s: moor status:\n%s\nwant %q and the service waiting", when, text, why)
		}
		if g := h.gauge("moor_deploy_window_open", map[string]string{"source": source}); g != 0 {
			t.Fatalf("%s: moor_deploy_window_open = %v, want 0", when, g)
		}
	}
	held("startup")

	// A trigger runs, and holds the deploy as well.
	h.ctl.Trigger()
	l.idle(3)
	if d := l.clock.fire(t); d != controller.TriggerGap {
		t.Fatalf("the trigger waited %s, want %s", d, controller.TriggerGap)
	}
	l.idle(4)
	if got := h.runs(); got[""] != 2 || got[controller.ResultWaiting] != 2 {
		t.Fatalf("runs: %v, want two that waited", got)
	}
	held("a trigger")

	// The next turn ends when the window opens, and applies the deploy.
	if d := l.clock.fire(t); l.clock.Now() != time.Date(2030, 1, 1, 2, 0, 0, 0, time.UTC) {
		t.Fatalf("the loop's next turn came after %s, at %s; want the window's opening at 02:00", d, l.clock.Now())
	}
	l.idle(5)
	h.container("web-app-1")
	if st := h.status(); st.Result != controller.ResultSuccess || st.Window != "" || len(st.Waiting) != 0 {
		t.Fatalf("status after the window opened: %s, window %q, waiting %q; want a success", st.Result, st.Window, st.Waiting)
	}
	if g := h.gauge("moor_deploy_window_open", map[string]string{"source": source}); g != 1 {
		t.Errorf("moor_deploy_window_open = %v after the window opened, want 1", g)
	}
	// Applied: the loop is back on its schedule.
	before := l.clock.Now()
	l.tick()
	if waited := l.clock.Now().Sub(before); waited < 10*time.Hour {
		t.Errorf("the turn after the opening came after %s, want the 10h schedule", waited)
	}
}

// TestLoopHonoursSuspension: a suspended source or stack changes nothing on
// the host, whatever triggers the run — the schedule, a webhook, an
// engine event, an image check; the run holds the ops and status and the
// metric say it is suspended. Resume applies what waited.
func TestLoopHonoursSuspension(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		stack string // suspended: "" the whole source
		opts  []func(*config.Source)
		// change makes the host differ from what the source wants; run
		// triggers a run the way the case says, and waits for its end.
		change func(h *harness)
		run    func(h *harness, l *loop, ev *engineEvents)
		// watch: the engine's events are followed.
		watch bool
		// changed reports whether what change asked for was done.
		changed func(h *harness, before reconcile.Container) bool
	}{
		{
			name:   "poll",
			change: func(h *harness) { h.commit("app 2", map[string]string{"web/compose.yaml": stack("app=app:2")}) },
			run: func(h *harness, l *loop, ev *engineEvents) {
				if !l.tick() {
					h.t.Fatal("the tick did not run the pipeline")
				}
			},
			changed: replaced,
		},
		{
			name:   "webhook",
			stack:  "web",
			change: func(h *harness) { h.commit("app 2", map[string]string{"web/compose.yaml": stack("app=app:2")}) },
			run: func(h *harness, l *loop, ev *engineEvents) {
				turn := l.clock.turns()
				h.ctl.TriggerPush()
				l.idle(turn + 1)
				l.clock.fire(h.t)
				l.idle(turn + 2)
			},
			changed: replaced,
		},
		{
			name:  "drift repair from an engine event",
			stack: "web",
			opts:  []func(*config.Source){driftEvery(time.Hour)},
			watch: true,
			change: func(h *harness) {
				h.fake.StopByHand("web-app-1")
			},
			run: func(h *harness, l *loop, ev *engineEvents) {
				turn := l.clock.turns()
				ev.send(h.t, reconcile.Event{Kind: reconcile.EventContainer, Action: "die", Name: "web-app-1", Stack: "web", Source: source})
				l.awaitEventCheck(turn)
			},
			changed: func(h *harness, _ reconcile.Container) bool {
				return h.container("web-app-1").State == reconcile.StateRunning
			},
		},
		{
			name:   "image update",
			opts:   []func(*config.Source){imageUpdates("@every 10h")},
			change: func(h *harness) { h.fake.Publish("app:1", "sha256:app-1-rebuilt") },
			run: func(h *harness, l *loop, ev *engineEvents) {
				turn, asked := l.clock.turns(), h.calls("RegistryDigest")
				h.ctl.TriggerImageCheck()
				l.idle(turn + 1)
				if h.calls("RegistryDigest") == asked {
					h.t.Fatal("the image check did not ask the registry")
				}
			},
			changed: replaced,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1"), "other/compose.yaml": stack("app=db:1")}, tc.opts...)
			l := startLoop(h, time.Hour)
			l.idle(2)
			var ev *engineEvents
			if tc.watch {
				ev = newEngineEvents()
				h.watch(ev)
				l.awaitEventCheck(2)
				l.tick() // past EventGap after that check
			}
			before := h.container("web-app-1")
			if err := h.ctl.Suspend(tc.stack, "alice"); err != nil {
				t.Fatal(err)
			}
			ss, err := h.ctl.Suspensions()
			if err != nil || len(ss) != 1 || ss[0].Stack != tc.stack || ss[0].By != "alice" {
				t.Fatalf("Suspensions() = %+v, %v; want %q by alice", ss, err, tc.stack)
			}
			if g := h.gauge("moor_suspended", map[string]string{"source": source, "stack": tc.stack}); g != 1 {
				t.Fatalf("moor_suspended{stack=%q} = %v, want 1", tc.stack, g)
			}
			tc.change(h)
			runs := h.runs()[""]
			tc.run(h, l, ev)
			if h.runs()[""] != runs+1 {
				t.Fatalf("the %s did not run the pipeline", tc.name)
			}
			if tc.changed(h, before) {
				t.Fatalf("the %s changed the host while suspended: %s", tc.name, h.fake)
			}
			st := h.status()
			if st.Result != controller.ResultWaiting || len(st.Suspended) != 1 || len(st.Waiting) == 0 ||
				!strings.Contains(st.Waiting[0], ": suspended (by alice at ") {
				t.Fatalf("status: %s, suspended %+v, waiting %q; want the ops held, suspended by alice", st.Result, st.Suspended, st.Waiting)
			}
			if text := h.statusText(); !strings.Contains(text, "suspended "+ss[0].Target()+" (by alice at ") ||
				!strings.Contains(text, "web/app") || !strings.Contains(text, controller.StateSuspended) {
				t.Fatalf("moor status:\n%s\nwant the suspension and web/app suspended", text)
			}

			// Resume asks for a run, which applies what waited.
			turn := l.clock.turns()
			if err := h.ctl.Resume(tc.stack); err != nil {
				t.Fatal(err)
			}
			if g := h.gauge("moor_suspended", map[string]string{"source": source}); g != -1 {
				t.Fatalf("moor_suspended = %v after resume, want no series", g)
			}
			runs = h.runs()[""]
			l.idle(turn + 1)
			if h.runs()[""] == runs { // the trigger waits out TriggerGap
				if d := l.clock.fire(t); d != controller.TriggerGap {
					t.Fatalf("the run after resume waited %s, want at most %s", d, controller.TriggerGap)
				}
				l.idle(turn + 2)
			}
			if !tc.changed(h, before) {
				t.Fatalf("the run after resume did not apply what waited: %s", h.fake)
			}
			if st := h.status(); st.Result != controller.ResultSuccess || len(st.Suspended) != 0 {
				t.Fatalf("status after resume: %s, suspended %+v; want a success (runs %v)", st.Result, st.Suspended, h.runs())
			}
		})
	}
}

func replaced(h *harness, before reconcile.Container) bool {
	return h.container("web-app-1").ID != before.ID
}

// TestApplyHonoursHoldsUnlessTold: an operator's apply of a suspended
// source, or in a closed window, plans and holds; told to go past them,
// it applies and the ledger records which hold it went past.
func TestApplyHonoursHoldsUnlessTold(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")},
		windows(config.Window{Kind: "allow", Schedule: "0 0 1 1 *", Duration: time.Minute})) // closed but a minute a year
	h.ctl.Explicit = true
	if err := h.ctl.Suspend("", "alice"); err != nil {
		t.Fatal(err)
	}
	out, err := h.apply()
	if err != nil || out.Result != nil || len(out.Plan.Waiting) == 0 || !strings.Contains(out.Plan.String(), ": suspended (by alice at ") {
		t.Fatalf("apply of a suspended source: %v, result %v, plan:\n%s\nwant every op held by the suspension", err, out.Result, out.Plan)
	}
	h.ctl.IgnoreSuspend = true
	out, err = h.apply()
	if err != nil || out.Result != nil || !strings.Contains(out.Plan.String(), ": waiting for window (opens at ") {
		t.Fatalf("apply past the suspension in a closed window: %v, plan:\n%s\nwant every op waiting for the window", err, out.Plan)
	}
	if n := h.calls("CreateContainer"); n != 0 {
		t.Fatalf("%d containers created while held", n)
	}
	h.ctl.IgnoreWindows = true
	if out, err = h.apply(); err != nil || out.Result == nil {
		t.Fatalf("apply past both: %v, plan:\n%s", err, out.Plan)
	}
	h.container("web-app-1")
	recs := h.records()
	last := recs[len(recs)-1]
	if last.Result != controller.ResultSuccess || strings.Join(last.Overrides, ",") != controller.OverrideSuspension+","+controller.OverrideWindows {
		t.Fatalf("ledger: %s, overrides %q; want a success past the suspension and the windows", last.Result, last.Overrides)
	}
	if st := h.status(); len(st.Suspended) != 1 || st.Result != controller.ResultSuccess {
		t.Errorf("status: %s, suspended %+v; want a success, and the source still suspended", st.Result, st.Suspended)
	}
}

// TestSuspendedNewStackIsNotRanBefore: a stack added while suspended did
// not run on the host; created after resume, it is not warned about as
// data that went missing.
func TestSuspendedNewStackIsNotRanBefore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	h.mustApply()
	if err := h.ctl.Suspend("api", "alice"); err != nil {
		t.Fatal(err)
	}
	h.commit("api", map[string]string{"api/compose.yaml": stack("app=app:2")})
	if out, err := h.apply(); err != nil || len(out.Remaining.Waiting) == 0 {
		t.Fatalf("apply with api suspended: %v; want its ops held", err)
	}
	if err := h.ctl.Resume("api"); err != nil {
		t.Fatal(err)
	}
	out := h.mustApply()
	h.container("api-app-1")
	if ws := out.Warnings(); len(ws) != 0 {
		t.Errorf("warnings after resume: %q; want none, api never ran before", ws)
	}
}

// TestLoopImageUpdateWaitsForTheWindow: a tag that moves while the deploy
// window is closed is found by the image check and held; when the window
// opens, the loop's run checks the registry again and rolls it out, before
// the image schedule's next turn.
func TestLoopImageUpdateWaitsForTheWindow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")}, imageUpdates("@every 90m"),
		windows(config.Window{Kind: "deny", Schedule: "0 1 * * *", Duration: time.Hour})) // 01:00-02:00
	l := startLoop(h, 10*time.Hour)
	l.idle(2)
	app := h.container("web-app-1")

	h.fake.Publish("app:1", "sha256:app-1-rebuilt")
	if !l.tick() || l.clock.Now() != time.Date(2030, 1, 1, 1, 30, 0, 0, time.UTC) {
		t.Fatalf("the image check did not run at 01:30 but at %s", l.clock.Now())
	}
	if h.calls("RegistryDigest") == 0 {
		t.Fatal("the image check did not ask the registry")
	}
	if c := h.container("web-app-1"); c.ID != app.ID {
		t.Fatal("the image update was applied inside the deny window")
	}
	if st := h.status(); st.Result != controller.ResultWaiting || st.Window != "waiting for window (opens at 2030-01-01T02:00:00Z)" {
		t.Fatalf("status: %s, window %q; want the update waiting for 02:00", st.Result, st.Window)
	}

	asked := h.calls("RegistryDigest")
	if !l.tick() || l.clock.Now() != time.Date(2030, 1, 1, 2, 0, 0, 0, time.UTC) {
		t.Fatalf("the next run came at %s, want the window's opening at 02:00", l.clock.Now())
	}
	if h.calls("RegistryDigest") == asked {
		t.Fatal("the run at the window's opening did not ask the registry again")
	}
	if c := h.container("web-app-1"); c.ID == app.ID || c.ImageID != "sha256:app-1-rebuilt" {
		t.Fatalf("web-app-1 at the window's opening: %s of %s; want the moved tag rolled out", c.ID, c.ImageID)
	}
}
