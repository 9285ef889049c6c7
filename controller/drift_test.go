package controller_test

import (
	"slices"
	"testing"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/reconcile"
)

func reportDrift(s *config.Source) { s.Drift = config.DriftReport }

// driftOnce applies once on a host where web-app-1 was stopped by hand, and
// checks that the drift is reported, not repaired.
func driftOnce(t *testing.T, h *harness) {
	t.Helper()
	starts, records := h.calls("StartContainer"), len(h.records())
	out, err := h.apply()
	if err != nil {
		t.Fatalf("drift run: %v", err)
	}
	if h.calls("StartContainer") != starts {
		t.Error("drift: report started the container stopped by hand")
	}
	if c := h.container("web-app-1"); c.State != reconcile.StateExited {
		t.Errorf("web-app-1 is %s after a drift run, want it left exited", c.State)
	}
	if len(out.Plan.Drift) == 0 || out.Result != nil {
		t.Errorf("outcome: drift %v, result %v; want the drift reported and nothing applied", out.Plan.Drift, out.Result)
	}
	st := h.status()
	if st.Result != controller.ResultDrift {
		t.Errorf("status result %q, want %q", st.Result, controller.ResultDrift)
	}
	if want := []string{"start web/app/1 (exited with code 0)"}; !slices.Equal(st.Drift, want) {
		t.Errorf("status drift %q, want %q", st.Drift, want)
	}
	if got := len(h.records()); got != records {
		t.Errorf("a drift run wrote %d ledger records, want none", got-records)
	}
}

func TestDriftReportLeavesHost(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{
		"web/compose.yaml": stack("app=app:1"),
		"db/compose.yaml":  stack("db=db:1"),
	}, reportDrift)
	h.mustApply()
	id := h.container("web-app-1").ID
	h.fake.StopByHand("web-app-1")

	driftOnce(t, h)
	driftOnce(t, h) // and again: still not repaired, still not recorded

	// moor apply repairs it.
	h.ctl.Explicit = true
	out := h.mustApply()
	h.ctl.Explicit = false
	if out.Result == nil || h.container("web-app-1").State != reconcile.StateRunning {
		t.Fatalf("an explicit apply did not repair the drift: result %v, engine:\n%s", out.Result, h.fake)
	}
	if st := h.status(); st.Result != controller.ResultSuccess || len(st.Drift) != 0 {
		t.Errorf("after the repair: result %q, drift %q; want success and no drift", st.Result, st.Drift)
	}

	// Drift again; a new commit, even one that does not touch web, is
	// applied in full, the drift's repair included.
	h.fake.StopByHand("web-app-1")
	driftOnce(t, h)
	starts, records := h.calls("StartContainer"), len(h.records())
	rev := h.commit("db 2", map[string]string{"db/compose.yaml": stack("db=db:2")})
	h.mustApply()
	if c := h.container("web-app-1"); c.State != reconcile.StateRunning || c.ID != id {
		t.Errorf("after a new commit web-app-1 is %s %s, want the same container %s started", c.ID, c.State, id)
	}
	if h.calls("StartContainer") <= starts {
		t.Error("the new commit started nothing")
	}
	if c := h.container("db-db-1"); c.Image != "db:2" {
		t.Errorf("db-db-1 runs %s, want db:2", c.Image)
	}
	recs := h.records()
	if len(recs) != records+1 || recs[len(recs)-1].Revision != rev || recs[len(recs)-1].Result != controller.ResultSuccess {
		t.Errorf("ledger after the new commit: %d new records, last %+v; want one success of %s", len(recs)-records, recs[len(recs)-1], rev)
	}
	if st := h.status(); len(st.Drift) != 0 || st.Applied != rev {
		t.Errorf("status after the new commit: drift %q, applied %s; want no drift, applied %s", st.Drift, st.Applied, rev)
	}
}

// Without drift: report, the same hand stop is repaired at the next run:
// the check that the drift tests above test the setting, not the fake.
func TestDriftRepairByDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	h.mustApply()
	h.fake.StopByHand("web-app-1")
	out := h.mustApply()
	if len(out.Plan.Drift) > 0 || h.container("web-app-1").State != reconcile.StateRunning {
		t.Fatalf("drift: repair left web-app-1 %s (drift %v)", h.container("web-app-1").State, out.Plan.Drift)
	}
}
