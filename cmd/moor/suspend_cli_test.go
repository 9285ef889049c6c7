package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/controller"
)

// TestSuspendCommands: moor suspend and moor resume change the state dir's
// suspensions of a known source only, and say what stays suspended.
func TestSuspendCommands(t *testing.T) {
	state := t.TempDir()
	m := &moor{t: t, stateDir: state, source: "site"}
	if code, out := m.run("suspend", "--state-dir", state, "site"); code == 0 || !strings.Contains(out, `no source "site" has run on `) {
		t.Fatalf("suspend of an unknown source: exit %d\n%s", code, out)
	}
	os.MkdirAll(filepath.Join(state, "sources", "site"), 0o700)
	if code, out := m.run("suspend", "--state-dir", state, "site", "a/b"); code == 0 || !strings.Contains(out, `"a/b" is not a stack name`) {
		t.Fatalf("suspend of a bad stack name: exit %d\n%s", code, out)
	}
	if code, out := m.run("suspend", "--state-dir", state, "--by", "alice", "site"); code != 0 ||
		!strings.Contains(out, "source site: the whole source suspended (by alice at ") {
		t.Fatalf("suspend: exit %d\n%s", code, out)
	}
	if code, out := m.run("suspend", "--state-dir", state, "site", "web"); code != 0 ||
		!strings.Contains(out, "source site: stack web suspended (by moor suspend at ") {
		t.Fatalf("suspend of a stack: exit %d\n%s", code, out)
	}
	ss, err := controller.ReadSuspensions(state, "site")
	if err != nil || len(ss) != 2 || ss[0].Stack != "" || ss[0].By != "alice" || ss[1].Stack != "web" {
		t.Fatalf("suspensions: %+v, %v; want the source by alice, then web", ss, err)
	}
	code, out := m.run("resume", "--state-dir", state, "site")
	if code != 0 || !strings.Contains(out, "the whole source resumed") || !strings.Contains(out, "still suspended: stack web suspended (by moor suspend at ") {
		t.Fatalf("resume of the source: exit %d\n%s", code, out)
	}
	if code, out := m.run("resume", "--state-dir", state, "site", "web"); code != 0 || strings.Contains(out, "still suspended") {
		t.Fatalf("resume of the stack: exit %d\n%s", code, out)
	}
	if ss, err := controller.ReadSuspensions(state, "site"); err != nil || len(ss) != 0 {
		t.Fatalf("suspensions after resume: %+v, %v; want none", ss, err)
	}
	if code, out := m.run("resume", "--state-dir", state); code == 0 || !strings.Contains(out, "want SOURCE [STACK]") {
		t.Fatalf("resume without a source: exit %d\n%s", code, out)
	}
}
