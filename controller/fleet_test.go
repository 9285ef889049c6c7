package controller_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/moor-dev/moor/config"
)

// TestFleetHostView: a host deploys the shared stacks and its own, and a
// commit that touches only another host's directory or a group it is not
// in is not loaded again: its stacks are the last revision's, the plan is
// empty, nothing is written to the ledger, and the engine is unchanged. A
// commit to the host's own directory is loaded, and applied.
func TestFleetHostView(t *testing.T) {
	h := newHarness(t, map[string]string{
		"web/compose.yaml":                   stack("app=app:1"),
		"hosts/a/cache/compose.yaml":         stack("app=app:1"),
		"hosts/b/store/compose.yaml":         stack("app=app:1"),
		"groups/role=db/pg/compose.yaml":     stack("app=db:1"),
		"groups/role=web/front/compose.yaml": stack("app=app:1"),
	})
	core, logs := observer.New(zapcore.DebugLevel)
	newCtl := func() {
		h.ctl = h.newController()
		h.ctl.Host = config.Host{Name: "a", Labels: map[string]string{"role": "web"}}
		h.ctl.Log = zap.New(core)
	}
	newCtl()
	out := h.mustApply()
	if got := out.Desired.StackNames(); len(got) != 3 || got[0] != "cache" || got[1] != "front" || got[2] != "web" {
		t.Fatalf("stacks of host a: %v", got)
	}
	// The snapshot leaves out other hosts' and groups' files, not their
	// names.
	snap := filepath.Join(h.state, "sources", source, "snapshots", commitOf(out.Desired.Revision))
	for p, want := range map[string]bool{
		"hosts/a/cache/compose.yaml":         true,
		"groups/role=web/front/compose.yaml": true,
		"hosts/b":                            true,
		"groups/role=db":                     true,
		"hosts/b/store":                      false,
		"groups/role=db/pg":                  false,
	} {
		if _, err := os.Stat(filepath.Join(snap, p)); (err == nil) != want {
			t.Errorf("snapshot: %s: %v, want it there: %v", p, err, want)
		}
	}
	engine, records := h.fake.String(), len(h.records())
	reused := func() int { return logs.FilterMessageSnippet("changes nothing this host reads").Len() }

	for _, files := range []map[string]string{
		{"hosts/b/store/compose.yaml": stack("app=app:2")},
		{"groups/role=db/pg/compose.yaml": stack("app=db:2")},
		{"hosts/c/new/compose.yaml": stack("app=app:2")},
	} {
		before := reused()
		rev := h.commit("another host's", files)
		out := h.mustApply()
		if out.Desired.Revision != rev || !out.Plan.Empty() {
			t.Errorf("%v: revision %s, plan:\n%s", files, out.Desired.Revision, out.Plan)
		}
		if reused() != before+1 {
			t.Errorf("%v: loaded again", files)
		}
		if h.fake.String() != engine || len(h.records()) != records {
			t.Errorf("%v: the engine or the ledger changed:\n%s", files, h.fake.String())
		}
	}

	before := reused()
	h.commit("host a's", map[string]string{"hosts/a/cache/compose.yaml": stack("app=app:2")})
	out = h.mustApply()
	if reused() != before {
		t.Errorf("a commit to hosts/a was not loaded")
	}
	if got := out.Desired.Service("cache/app").Spec.Image; got != "app:2" {
		t.Errorf("cache/app image %s", got)
	}
	if len(h.records()) != records+1 {
		t.Errorf("records: %d, want %d", len(h.records()), records+1)
	}

	// A file outside hosts/ and groups/ may be read by any stack: the
	// revision is loaded again, and changes nothing.
	before = reused()
	h.commit("shared", map[string]string{"README.md": "fleet\n"})
	if out := h.mustApply(); reused() != before || !out.Plan.Empty() {
		t.Errorf("a shared file: reused %v, plan:\n%s", reused() != before, out.Plan)
	}
	// A group's new name is read by every host (a bad one refuses the
	// revision).
	before = reused()
	h.commit("a new group", map[string]string{"groups/role=cache/x/compose.yaml": stack("app=app:1")})
	if h.mustApply(); reused() != before {
		t.Errorf("a new group: not loaded again")
	}

	// Another host on the same state dir (a renamed host) has its own
	// files: the snapshot is made again.
	h.ctl = h.newController()
	h.ctl.Host = config.Host{Name: "b"}
	out = h.mustApply()
	if len(out.Desired.StackNames()) != 2 {
		t.Errorf("host b: stacks %v", out.Desired.StackNames())
	}
	// Host a's own stack is not host b's: removed as a stack removed from
	// git is, not held as broken.
	if plan := out.Plan.String(); !strings.Contains(plan, "remove cache/app/1 (stack removed from git)") || len(out.Desired.Broken) > 0 {
		t.Errorf("host b's plan:\n%s", plan)
	}

	// A restarted moor loads the first revision it sees, then reuses.
	newCtl()
	h.mustApply()
	before = reused()
	h.commit("another host's", map[string]string{"hosts/b/store/compose.yaml": stack("app=app:1")})
	h.mustApply()
	if reused() != before+1 {
		t.Errorf("after a restart: loaded again")
	}
}
