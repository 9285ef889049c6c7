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
