package controller_test

import (
	"slices"
	"strings"
	"testing"
)

// TestStacksOrderedAcrossRevisions: a commit deploys a, b needing a and c
// needing b in that order; the next removes all three from git, and the
// controller, remembering what each needed, removes c, then b, then a.
func TestStacksOrderedAcrossRevisions(t *testing.T) {
	t.Parallel()
	needs := func(stacks ...string) string {
		return "x-moor:\n  depends_on: [" + strings.Join(stacks, ", ") + "]\n"
	}
	h := newHarness(t, map[string]string{
		"a/compose.yaml": stack("db=db:1"),
		"b/compose.yaml": needs("a") + stack("api=app:1"),
		"c/compose.yaml": needs("b") + stack("web=app:1"),
		"x/compose.yaml": stack("other=app:1"),
	})
	out := h.mustApply()
	plan := out.Plan.String()
	for _, want := range []string{"create b/api/1 (missing) after stack a\n", "create c/web/1 (missing) after stacks a, b\n"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	j := h.fake.Journal()
	inOrder(t, j, "StartContainer a-db-1", "CreateContainer b-api-1", "StartContainer b-api-1", "CreateContainer c-web-1")

	h.fake.ResetCalls()
	h.commit("remove a, b and c", map[string]string{"a/compose.yaml": "", "b/compose.yaml": "", "c/compose.yaml": ""})
	h.mustApply()
	inOrder(t, h.fake.Journal(), "RemoveContainer c-web-1", "RemoveContainer b-api-1", "RemoveContainer a-db-1")
}

// inOrder fails unless every line of want is in the journal j, in that
// order.
func inOrder(t *testing.T, j []string, want ...string) {
	t.Helper()
	last := -1
	for k, w := range want {
		i := slices.Index(j, w)
		if i < 0 || i < last {
			t.Errorf("%q is not after %q:\n%s", w, want[max(k-1, 0)], strings.Join(j, "\n"))
			return
		}
		last = i
	}
}

// TestDependentOfAFailedStackIsHeld: a commit changes a (to an image that
// never gets healthy) and b, which needs a. b's change is not applied in
// that run, its op naming stack a; in the next runs, while a's failed
// rollout is held back, the plan and the status hold b back too, naming
// a. b's container is the one it was all along.
func TestDependentOfAFailedStackIsHeld(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{
		"a/compose.yaml": healthchecked("app:1"),
		"b/compose.yaml": "x-moor:\n  depends_on: [a]\n" + stack("api=app:1"),
	})
	h.fake.Publish("app:bad", "sha256:bad")
	h.fake.UnhealthyImage("app:bad")
	h.mustApply()
	oldID := h.container("b-api-1").ID

	h.commit("a goes bad, b changes", map[string]string{
		"a/compose.yaml": healthchecked("app:bad"),
		"b/compose.yaml": "x-moor:\n  depends_on: [a]\n" + stack("api=app:2"),
	})
	out, err := h.apply()
	if err == nil {
		t.Fatal("the run succeeded")
	}
	for _, r := range out.Result.Ops {
		if r.Op.Resource == "b/api/1" && (!r.Skipped || !strings.Contains(r.Err.Error(), "needed stack a failed: a/app")) {
			t.Errorf("b/api/1: skipped %v, %v; want skipped, naming stack a", r.Skipped, r.Err)
		}
	}
	if got := h.container("b-api-1"); got.ID != oldID || got.Image != "app:1" {
		t.Errorf("b-api-1 is %s of %s, want the old container %s of app:1", got.ID, got.Image, oldID)
	}

	out, err = h.apply()
	if err == nil || !strings.Contains(err.Error(), "held back") {
		t.Fatalf("held run: err = %v", err)
	}
	want := "needs stack a, whose a/app is held"
	if got := out.Plan.Held["b/api"]; got != want {
		t.Errorf("plan holds b/api for %q, want %q:\n%s", got, want, out.Plan)
	}
	if got := h.status().Held["b/api"]; got != want {
		t.Errorf("status holds b/api for %q, want %q", got, want)
	}
	if got := h.container("b-api-1"); got.ID != oldID {
		t.Errorf("a held run replaced b-api-1")
	}
}
