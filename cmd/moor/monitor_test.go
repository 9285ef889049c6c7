package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// TestMonitorCatchesEarlyCrash: a new container without a healthcheck must
// keep running for the monitor period; one that dies a second after it
// started is rolled back, and the old one runs on.
func TestMonitorCatchesEarlyCrash(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	compose := func(env string) string {
		return fmt.Sprintf("services:\n  worker:\n    image: %s\n    environment:\n      VERSION: \"1\"\n%s", img, env)
	}
	repo.Write(stack+"/compose.yaml", compose(""))
	repo.Commit("v1")
	m.mustApply()
	before := containers(t, cli, stack)

	repo.Write(stack+"/compose.yaml", compose("      CRASH_AFTER: 1s\n"))
	repo.Commit("crashes after a second")
	code, out := m.run("apply")
	if code == 0 || !strings.Contains(out, "exited with code 1") || !strings.Contains(out, "old container restored") {
		t.Fatalf("a container that dies within the monitor period was accepted: exit %d\n%s", code, out)
	}
	if after := containers(t, cli, stack); !equalMaps(before, after) {
		t.Fatalf("containers after the rollback: %v, want the old ones %v", after, before)
	}
}
