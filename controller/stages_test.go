package controller_test

import (
	"slices"
	"testing"

	"github.com/moor-dev/moor/controller"
)

func stageNames(out *controller.Outcome) []string {
	var names []string
	for _, s := range out.Stages {
		if s.Took < 0 {
			names = append(names, s.Name+"(negative)")
			continue
		}
		names = append(names, s.Name)
	}
	return names
}

// A run's stages are timed in the order they ran: those of an apply that
// changed the host, then those of a no-op, which neither applies nor
// verifies.
func TestRunStages(t *testing.T) {
	h := newHarness(t, map[string]string{"web/compose.yaml": "services:\n  app:\n    image: app:1\n"})
	out := h.mustApply()
	want := []string{"resolve", "checkout", "trust", "load", "records", "pull", "observe", "plan", "apply", "verify", "record"}
	if got := stageNames(out); !slices.Equal(got, want) {
		t.Fatalf("stages of the first apply: %v, want %v", got, want)
	}
	out = h.mustApply()
	want = []string{"resolve", "checkout", "trust", "load", "records", "pull", "observe", "plan", "record"}
	if got := stageNames(out); !slices.Equal(got, want) {
		t.Fatalf("stages of a no-op: %v, want %v", got, want)
	}
	plan, err := h.ctl.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"resolve", "checkout", "trust", "load", "records", "observe", "plan"}
	if got := stageNames(plan); !slices.Equal(got, want) {
		t.Fatalf("stages of a plan: %v, want %v", got, want)
	}
}
