package controller_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/moor-dev/moor/reconcile"
)

const buildCompose = "services:\n  app:\n    build: ./app\n"

// A failed build leaves the old container running and holds the service,
// as a failed rollout does: the same broken build is not run again on
// every poll, and a new commit tries again.
func TestFailedBuildIsHeld(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{
		"web/compose.yaml":   buildCompose,
		"web/app/Dockerfile": "FROM scratch\nCOPY v /\n",
		"web/app/v":          "1",
	})
	h.mustApply()
	if n := h.calls("Build"); n != 1 {
		t.Fatalf("first apply built %d times, want 1", n)
	}
	old := h.container("web-app-1")
	if !strings.HasPrefix(old.Image, "web-app:moor-") {
		t.Fatalf("the service does not run its build: %s", old.Image)
	}

	// An unchanged revision builds nothing.
	h.mustApply()
	if n := h.calls("Build"); n != 1 {
		t.Fatalf("an unchanged revision built again (%d builds)", n)
	}

	h.commit("broken", map[string]string{"web/app/Dockerfile": "FROM scratch\nCOPY missing /\n"})
	h.fake.FailAlways("Build", "*", errors.New("COPY failed: file not found in build context"))
	_, err := h.apply()
	if err == nil || !strings.Contains(err.Error(), "COPY failed") {
		t.Fatalf("apply of a broken build: err = %v, want the build's output", err)
	}
	if c := h.container("web-app-1"); c.ID != old.ID || c.State != reconcile.StateRunning {
		t.Fatalf("after the failed build web-app-1 is %s (%s), want the old one %s running", c.ID, c.State, old.ID)
	}
	f, ok := h.status().Failures["web/app"]
	if !ok || !strings.Contains(f.Reason, "build web-app:moor-") || !strings.Contains(f.Reason, "COPY failed") {
		t.Fatalf("status failure = %+v (held: %v), want the build named with its output", f, ok)
	}
	builds := h.calls("Build")
	_, err = h.apply()
	if h.calls("Build") != builds {
		t.Fatal("a held build was run again at the same revision")
	}
	if err == nil || !strings.Contains(err.Error(), "held back") {
		t.Fatalf("held run: err = %v, want the service held back", err)
	}

	h.fake.ClearFaults()
	h.commit("fixed", map[string]string{"web/app/Dockerfile": "FROM scratch\nCOPY v /v2\n"})
	h.mustApply()
	if h.calls("Build") != builds+1 {
		t.Fatalf("the fixing commit built %d times, want 1", h.calls("Build")-builds)
	}
	if c := h.container("web-app-1"); c.ID == old.ID || c.State != reconcile.StateRunning {
		t.Fatalf("after the fix web-app-1 is %s (%s), want a new container running", c.ID, c.State)
	}
}
