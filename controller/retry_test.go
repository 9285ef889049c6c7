package controller_test

import (
	"slices"
	"testing"
)

// TestRetryHeld: RetryHeld has the next run, a controller's own, retry a
// held service once, as moor apply would; the run after it holds it again.
// With nothing held it asks for nothing.
func TestRetryHeld(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": healthchecked("app:1")})
	h.mustApply()
	if held := h.ctl.RetryHeld(); held != nil {
		t.Fatalf("nothing is held, yet RetryHeld retries %v", held)
	}
	if tried, _ := attempted(h); tried {
		t.Fatal("a converged source created a container after RetryHeld with nothing held")
	}

	h, _, _ = failedRollout(t)
	if tried, _ := attempted(h); tried {
		t.Fatal("a held service was attempted without RetryHeld")
	}
	if held := h.ctl.RetryHeld(); !slices.Equal(held, []string{"web/app"}) {
		t.Fatalf("RetryHeld = %v, want [web/app]", held)
	}
	if tried, err := attempted(h); !tried || err == nil {
		t.Fatalf("the run after RetryHeld: tried %v, err %v; want a failing attempt", tried, err)
	}
	if got := h.status().Failures["web/app"].Attempts; got != 2 {
		t.Errorf("attempts after the retry: %d, want 2", got)
	}
	if tried, _ := attempted(h); tried {
		t.Fatal("the run after the retried one attempted the held service again")
	}
}
