package controller_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/reconcile"
)

// TestIdentityAdoptsWhatAnEarlierMoorMade: containers without an owner
// label were made by a moor that did not record owners. The instance that
// takes over that moor's state dir owns them; a new instance (a fresh
// state dir) leaves them alone and reports the conflict.
func TestIdentityAdoptsWhatAnEarlierMoorMade(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	// What an earlier moor made: the revision, applied without an owner.
	legacy := &reconcile.Desired{Source: source, Revision: h.rev, Stacks: loadedStacks(t, h)}
	for _, st := range legacy.Stacks {
		st.Files = nil // an earlier moor wrote no stack directories
	}
	obs, _ := h.fake.Observe(t.Context())
	(&reconcile.Executor{Runtime: h.fake}).Apply(t.Context(), reconcile.MakePlan(legacy, obs, reconcile.Constraints{}))
	if c := h.container("web-app-1"); c.Owner != "" || !c.Running() {
		t.Fatalf("setup: %+v", c)
	}

	// The state dir was in use before the identity: an upgraded moor.
	upgraded := t.TempDir()
	if err := os.MkdirAll(filepath.Join(upgraded, "sources"), 0o700); err != nil {
		t.Fatal(err)
	}
	ident, err := controller.LoadIdentity(upgraded)
	if err != nil || !ident.AdoptUnowned {
		t.Fatalf("identity of a used state dir: %+v %v", ident, err)
	}
	h.state = upgraded
	out, err := h.newController().Plan(t.Context())
	if err != nil || len(out.Plan.Conflicts) > 0 {
		t.Fatalf("an upgraded instance does not own what it made: %v\n%s", err, out.Plan)
	}
	for _, op := range out.Plan.Ops { // it writes its stack directories, and that is all
		if op.Kind != reconcile.OpSyncFiles {
			t.Fatalf("an upgraded instance plans for what it made:\n%s", out.Plan)
		}
	}

	// A fresh state dir: a new instance.
	h.state = t.TempDir()
	out, err = h.newController().Plan(t.Context())
	if err != nil || !strings.Contains(out.Plan.String(), "conflict web") {
		t.Fatalf("a new instance plans for another moor's containers: %v\n%s", err, out.Plan)
	}
}

// loadedStacks is the harness's first revision as the controller loads it.
func loadedStacks(t *testing.T, h *harness) map[string]*reconcile.Stack {
	t.Helper()
	out, err := h.ctl.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return out.Desired.Stacks
}

// TestIdentityIsKeptAndShared: the identity is made once and read back the
// same, by every controller of the state dir.
func TestIdentityIsKeptAndShared(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := controller.LoadIdentity(dir)
	if err != nil || len(a.ID) != 32 || a.AdoptUnowned {
		t.Fatalf("first identity: %+v %v", a, err)
	}
	b, err := controller.LoadIdentity(dir)
	if err != nil || b.ID != a.ID {
		t.Fatalf("second read: %+v %v, want %s", b, err, a.ID)
	}
	if err := os.WriteFile(filepath.Join(dir, "identity"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := controller.LoadIdentity(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("a corrupt identity: %v", err)
	}
}

// TestDataMadeAnewIsReported: a volume of a stack that ran here before,
// found missing (a new disk, a volume removed by hand), is created empty,
// and the apply, the status and the log say so; a first deploy does not.
func TestDataMadeAnewIsReported(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1") +
		"    volumes: [\"data:/data\"]\nvolumes:\n  data: {}\n"})
	out := h.mustApply()
	if ws := out.Warnings(); len(ws) != 0 {
		t.Fatalf("a first deploy warned: %v", ws)
	}
	h.fake.RemoveByHand("web-app-1")
	if err := h.fake.RemoveVolume(t.Context(), "web_data"); err != nil {
		t.Fatal(err)
	}
	out = h.mustApply()
	ws := out.Warnings()
	if len(ws) != 1 || !strings.Contains(ws[0], "volume web_data is missing: created empty") {
		t.Fatalf("warnings %v", ws)
	}
	if st := h.status(); len(st.Warnings) != 1 || st.Warnings[0].Message != ws[0] {
		t.Errorf("status warnings %+v", st.Warnings)
	}
}
