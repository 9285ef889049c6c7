package controller_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/reconcile"
)

// failedRollout converges app:1 (healthchecked), then commits app:bad, whose
// containers never become healthy, and applies it once. It returns the
// harness, the bad revision and the ID of the app:1 container.
func failedRollout(t *testing.T) (h *harness, bad, oldID string) {
	t.Helper()
	h = newHarness(t, map[string]string{"web/compose.yaml": healthchecked("app:1")})
	h.fake.Publish("app:bad", "sha256:bad")
	h.fake.UnhealthyImage("app:bad")
	h.mustApply()
	oldID = h.container("web-app-1").ID
	bad = h.commit("unhealthy", map[string]string{"web/compose.yaml": healthchecked("app:bad")})
	creates := h.calls("CreateContainer")
	_, err := h.apply()
	if err == nil {
		t.Fatal("the rollout of an unhealthy image succeeded")
	}
	if h.calls("CreateContainer") != creates+1 {
		t.Fatalf("the rollout created %d containers, want 1", h.calls("CreateContainer")-creates)
	}
	if c := h.container("web-app-1"); c.ID != oldID || c.State != reconcile.StateRunning {
		t.Fatalf("after the failed rollout web-app-1 is %s (%s), want the old container %s running", c.ID, c.State, oldID)
	}
	return h, bad, oldID
}

// attempted applies once and reports whether the service's new container
// was tried (created), with the run's error.
func attempted(h *harness) (bool, error) {
	h.t.Helper()
	before := h.calls("CreateContainer")
	_, err := h.apply()
	return h.calls("CreateContainer") > before, err
}

func TestFailedRolloutIsHeld(t *testing.T) {
	t.Parallel()
	h, bad, oldID := failedRollout(t)

	st := h.status()
	f, ok := st.Failures["web/app"]
	if !ok {
		t.Fatalf("status has no failure for web/app: %+v", st.Failures)
	}
	if want := h.desiredHash("web/app"); f.Revision != bad || f.Attempts != 1 || f.Hash != want {
		t.Errorf("failure = %+v, want revision %s, attempt 1, hash of the desired service %s", f, bad, want)
	}
	if got := f.RetryAt.Sub(f.At); got != time.Minute {
		t.Errorf("first retry after %s, want 1m", got)
	}
	if !strings.Contains(f.Reason, "web/app/1") || !strings.Contains(f.Reason, "unhealthy") {
		t.Errorf("failure reason %q does not name the replica and its health", f.Reason)
	}

	// The same revision is not tried again before the backoff ends.
	for range 2 {
		tried, err := attempted(h)
		if tried {
			t.Fatal("a held rollout was attempted again at the same revision")
		}
		if err == nil || !strings.Contains(err.Error(), "held back") {
			t.Fatalf("held run: err = %v, want it to say the service is held back", err)
		}
	}
	if c := h.container("web-app-1"); c.ID != oldID || c.State != reconcile.StateRunning {
		t.Fatalf("a held run changed web-app-1: %s (%s)", c.ID, c.State)
	}
	if got := h.status().Failures["web/app"].Attempts; got != 1 {
		t.Errorf("held runs counted as attempts: %d, want 1", got)
	}

	// `moor status` says the service is degraded: the old revision runs,
	// the new one failed.
	assertDegraded(t, h, h.rev, bad)

	// moor apply (Explicit) tries it at once, and the failure counts a
	// second attempt with a doubled backoff.
	h.ctl.Explicit = true
	if tried, err := attempted(h); !tried || err == nil {
		t.Fatalf("explicit: tried %v, err %v; want a failing attempt", tried, err)
	}
	h.ctl.Explicit = false
	f = h.status().Failures["web/app"]
	if f.Attempts != 2 || f.RetryAt.Sub(f.At) != 2*time.Minute {
		t.Errorf("after the second attempt: %+v, want attempt 2 retried after 2m", f)
	}
	if tried, _ := attempted(h); tried {
		t.Fatal("held again after an explicit apply, yet attempted")
	}
}

func TestHeldFailureSurvivesRestart(t *testing.T) {
	t.Parallel()
	h, bad, _ := failedRollout(t)

	// A new moor process on the same state dir still holds it.
	h.ctl = h.newController()
	if tried, err := attempted(h); tried || err == nil || !strings.Contains(err.Error(), "held back") {
		t.Fatalf("after a restart: tried %v, err %v; want the service held back", tried, err)
	}
	assertDegraded(t, h, h.rev, bad)

	// Once the backoff has ended, the next run tries again.
	st := h.status()
	f, ok := st.Failures["web/app"]
	if !ok {
		t.Fatalf("the held run forgot the failure: %+v", st.Failures)
	}
	f.RetryAt = time.Now().Add(-time.Second)
	st.Failures["web/app"] = f
	writeDecisions(t, h, st)
	h.ctl = h.newController()
	if tried, err := attempted(h); !tried || err == nil {
		t.Fatalf("after the backoff: tried %v, err %v; want a failing attempt", tried, err)
	}
	if got := h.status().Failures["web/app"]; got.Attempts != 2 || got.Revision != bad {
		t.Errorf("after the retry: %+v, want attempt 2 of %s", got, bad)
	}
}

func TestNewCommitRetriesHeldFailure(t *testing.T) {
	t.Parallel()
	h, _, _ := failedRollout(t)

	// The same bad service, and a change elsewhere: a new revision is a
	// fresh try, not held.
	next := h.commit("unrelated", map[string]string{"README.md": "docs\n"})
	tried, err := attempted(h)
	if !tried {
		t.Fatalf("a new commit did not try the service again (err %v)", err)
	}
	if err == nil || strings.Contains(err.Error(), "held back") {
		t.Fatalf("err = %v, want the rollout's own failure", err)
	}
	f := h.status().Failures["web/app"]
	if f.Revision != next || f.Attempts != 1 {
		t.Errorf("failure = %+v, want attempt 1 of %s", f, next)
	}

	// A fix clears it.
	h.commit("fix", map[string]string{"web/compose.yaml": healthchecked("app:2")})
	h.mustApply()
	if st := h.status(); len(st.Failures) != 0 {
		t.Errorf("failures after a successful rollout: %+v", st.Failures)
	}
	if c := h.container("web-app-1"); c.Image != "app:2" || c.State != reconcile.StateRunning {
		t.Errorf("web-app-1 runs %s (%s), want app:2 running", c.Image, c.State)
	}
}

// assertDegraded checks what `moor status` says of web/app: degraded,
// running old, new failed.
func assertDegraded(t *testing.T, h *harness, old, new string) {
	t.Helper()
	obs, err := h.fake.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	reports, err := controller.ReadReports(h.state, obs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || len(reports[0].Services) != 1 {
		t.Fatalf("report: %+v", reports)
	}
	sr := reports[0].Services[0]
	want := "running " + short(old) + ", " + short(new) + " failed: "
	if sr.Stack+"/"+sr.Service != "web/app" || sr.State != "degraded" || !strings.HasPrefix(sr.Reason, want) {
		t.Errorf("web/app reports %s %q, want degraded %q…", sr.State, sr.Reason, want)
	}
	var b bytes.Buffer
	controller.WriteReport(&b, reports, time.Now())
	line := ""
	for l := range strings.SplitSeq(b.String(), "\n") {
		if strings.Contains(l, "web/app") {
			line = l
		}
	}
	if !strings.Contains(line, "degraded") || !strings.Contains(line, want) {
		t.Errorf("moor status shows web/app as\n%s\nwant degraded and %q; whole output:\n%s", line, want, b.String())
	}
}

// writeDecisions replaces the failures the controller keeps between runs
// with those of st, as a test's way to move a failure's backoff.
func writeDecisions(t *testing.T, h *harness, st *controller.Status) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"version": 1, "applied": st.Applied, "failures": st.Failures})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.state, "sources", source, "decisions.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
