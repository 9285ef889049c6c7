package controller_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/moor-dev/moor/controller"
)

// last returns the newest ledger record, or fails the test.
func (h *harness) last() string {
	h.t.Helper()
	recs := h.records()
	if len(recs) == 0 {
		h.t.Fatal("the ledger is empty")
	}
	r := recs[len(recs)-1]
	return r.Result + " " + r.Revision
}

func TestLedgerRecordsChangesAndFailuresOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	h.mustApply()
	if got := len(h.records()); got != 1 || h.last() != "success "+h.rev {
		t.Fatalf("after the first apply: %d records, last %q; want one success of %s", got, h.last(), h.rev)
	}

	// A no-op run is not an apply.
	for range 2 {
		if out := h.mustApply(); out.Result != nil {
			t.Fatalf("the second apply did something: %v", out.Plan)
		}
	}
	if got := len(h.records()); got != 1 {
		t.Errorf("no-op runs wrote %d records", got-1)
	}
	if st := h.status(); st.Result != controller.ResultNoop || st.Applied != h.rev {
		t.Errorf("status after a no-op: %s, applied %s", st.Result, st.Applied)
	}

	// A refused revision (no stacks left) changes nothing and is recorded
	// once, however often it is found again.
	refused := h.commit("remove everything", map[string]string{"web": ""})
	for range 3 {
		if _, err := h.apply(); !errors.Is(err, controller.ErrRefused) {
			t.Fatalf("apply of a revision without stacks: %v, want ErrRefused", err)
		}
	}
	if recs := h.records(); len(recs) != 2 || h.last() != "refused "+refused {
		t.Errorf("after three refused runs: %d records, last %q; want one refused record of %s", len(recs), h.last(), refused)
	}
	if h.container("web-app-1").ID == "" || h.calls("RemoveContainer") != 0 {
		t.Error("a refused revision touched the host")
	}

	// Fixed by a commit that wants what runs: a no-op, not recorded; a new
	// refused revision after it is recorded.
	h.commit("restore", map[string]string{"web/compose.yaml": stack("app=app:1")})
	if out := h.mustApply(); out.Result != nil {
		t.Fatalf("restoring what runs did something: %v", out.Plan)
	}
	refused2 := h.commit("remove everything again", map[string]string{"web": ""})
	if _, err := h.apply(); !errors.Is(err, controller.ErrRefused) {
		t.Fatalf("apply: %v, want ErrRefused", err)
	}
	if recs := h.records(); len(recs) != 3 || h.last() != "refused "+refused2 {
		t.Errorf("%d records, last %q; want 3, the last refusing %s", len(recs), h.last(), refused2)
	}
}

func TestLedgerRecordsAFailureAgainAfterASuccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	h.mustApply()
	engineDown := errors.New("engine down")

	failing := func() {
		t.Helper()
		h.fake.FailAlways("Observe", "*", engineDown)
		defer h.fake.ClearFaults()
		if _, err := h.apply(); !errors.Is(err, engineDown) {
			t.Fatalf("apply with the engine down: %v", err)
		}
	}
	failing()
	failing() // the same failure again: not recorded twice
	recs := h.records()
	if len(recs) != 2 || h.last() != "failed "+h.rev || !strings.Contains(recs[1].Error, "engine down") {
		t.Fatalf("after two identical failures: %d records, last %q; want one failed record", len(recs), h.last())
	}

	// The engine is back: the run is a no-op (not recorded); the same
	// failure after it is news again.
	if out := h.mustApply(); out.Result != nil {
		t.Fatalf("recovered run did something: %v", out.Plan)
	}
	failing()
	results := []string{}
	for _, r := range h.records() {
		results = append(results, r.Result)
	}
	if want := []string{"success", "failed", "failed"}; !slices.Equal(results, want) {
		t.Errorf("ledger results %q, want %q", results, want)
	}
}

func TestSnapshotsPrunedToRunningRevisions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{
		"web/compose.yaml": stack("app=app:1"),
		"db/compose.yaml":  stack("db=db:1"),
	})
	rev1 := h.rev
	h.mustApply()
	check := func(revs ...string) {
		t.Helper()
		var want []string
		for _, r := range revs {
			want = append(want, commitOf(r))
		}
		want = sorted(want...)
		dirs, metas := h.snapshots()
		if !slices.Equal(dirs, want) || !slices.Equal(metas, want) {
			t.Errorf("snapshots %q, metadata %q; want %q", dirs, metas, want)
		}
	}
	check(rev1)

	// web moves on, db keeps its rev1 container: both snapshots stay.
	rev2 := h.commit("web 2", map[string]string{"web/compose.yaml": stack("app=app:2")})
	h.mustApply()
	check(rev1, rev2)

	// db moves on too: nothing runs rev1 any more.
	rev3 := h.commit("db 2", map[string]string{"db/compose.yaml": stack("db=db:2")})
	h.mustApply()
	if got := h.container("web-app-1").Revision; got != rev2 {
		t.Fatalf("web-app-1 carries %s, want %s", got, rev2)
	}
	check(rev2, rev3)

	// A revision that changes no container is current, and rev2 and rev3
	// still run.
	rev4 := h.commit("docs", map[string]string{"README.md": "docs\n"})
	h.mustApply()
	check(rev2, rev3, rev4)
}
