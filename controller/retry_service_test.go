package controller_test

import (
	"errors"
	"testing"

	"github.com/moor-dev/moor/controller"
)

// TestRetryTriesOneHeldServiceOnce: Retry makes the next run try a held
// rollout again before its retry time, once; the failure then counts a
// second attempt and holds the service again. A service that is not held
// cannot be retried.
func TestRetryTriesOneHeldServiceOnce(t *testing.T) {
	t.Parallel()
	h, _, _ := failedRollout(t)
	if tried, _ := attempted(h); tried {
		t.Fatal("a held rollout was attempted before Retry")
	}
	if err := h.ctl.Retry("web/other"); !errors.Is(err, controller.ErrNotHeld) {
		t.Errorf("Retry of a service that is not held: %v, want ErrNotHeld", err)
	}
	if err := h.ctl.Retry("web/app"); err != nil {
		t.Fatalf("Retry of the held service: %v", err)
	}
	if tried, err := attempted(h); !tried || err == nil {
		t.Fatalf("the run after Retry: tried %v, err %v; want a new, failed attempt", tried, err)
	}
	if f := h.status().Failures["web/app"]; f.Attempts != 2 {
		t.Errorf("attempts after the retry: %d, want 2", f.Attempts)
	}
	if tried, _ := attempted(h); tried {
		t.Error("the run after the retried one attempted the rollout again: Retry is for one run")
	}
}
