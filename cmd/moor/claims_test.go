package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// TestConflictingStacksTouchNothing: a commit that adds a stack publishing
// the host port a running stack holds, and changes the running one too,
// changes nothing: both stacks are reported, each naming both sides, the
// running container is kept as it is and the new stack gets none.
func TestConflictingStacksTouchNothing(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	a := testkit.StackName(t)
	b := a + "-b"
	testkit.CleanupStack(t, a)
	testkit.CleanupStack(t, b)
	port := testkit.FreePort(t)
	service := func(version string) string {
		return fmt.Sprintf("services:\n  web:\n    image: %s\n    environment:\n      VERSION: %q\n    ports:\n      - \"127.0.0.1:%d:8080\"\n", img, version, port)
	}
	repo := testkit.NewRepo(t)
	repo.Write(a+"/compose.yaml", service("1"))
	repo.Commit("stack a")
	m := newMoor(t, repo.Dir, a)
	m.mustApply()
	before := containers(t, cli, a)
	if len(before) != 1 {
		t.Fatalf("stack a runs %v", before)
	}

	repo.Write(a+"/compose.yaml", service("2"))
	repo.Write(b+"/compose.yaml", strings.Replace(service("1"), "web:", "api:", 1))
	repo.Commit("stack b on stack a's port, and a change to a")
	code, out := m.run("apply")
	if code == 0 {
		t.Errorf("apply exited 0 with two stacks on one port:\n%s", out)
	}
	both := fmt.Sprintf(`stack %s service web ports[0] "127.0.0.1:%d:8080" and stack %s service api ports[0] "127.0.0.1:%d:8080" both publish host port 127.0.0.1:%d/tcp`, a, port, b, port, port)
	if strings.Count(out, both) < 2 {
		t.Errorf("output does not report both stacks with %q:\n%s", both, out)
	}
	if after := containers(t, cli, a); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("stack a was touched: %v, was %v", after, before)
	}
	if got := containers(t, cli, b); len(got) != 0 {
		t.Errorf("stack b got containers: %v", got)
	}
}
