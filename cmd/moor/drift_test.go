package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// TestDriftRepaired: containers stopped, removed or renamed by hand are
// repaired by the next run, and the plan says why.
func TestDriftRepaired(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", fmt.Sprintf("services:\n  a:\n    image: %[1]s\n    restart: unless-stopped\n  b:\n    image: %[1]s\n  c:\n    image: %[1]s\n", img))
	repo.Commit("three services")
	m := newMoor(t, repo.Dir, stack)
	m.mustApply()
	ids := containers(t, cli, stack)
	ctx := t.Context()

	if _, err := cli.ContainerStop(ctx, stack+"-a-1", client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerRemove(ctx, stack+"-b-1", client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerRename(ctx, stack+"-c-1", client.ContainerRenameOptions{NewName: stack + "-renamed"}); err != nil {
		t.Fatal(err)
	}
	_, plan := m.run("plan")
	for _, want := range []string{
		"start " + stack + "/a/1 (exited with code",
		"create " + stack + "/b/1 (missing)",
		"create " + stack + "/c/1 (missing)",
		"remove " + stack + "/c/1 (unexpected name " + stack + "-renamed)",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	m.mustApply()
	got := containers(t, cli, stack)
	if len(got) != 3 || got[stack+"-a-1"] != ids[stack+"-a-1"] || got[stack+"-b-1"] == "" || got[stack+"-c-1"] == "" {
		t.Fatalf("after repair: %v (before %v)", got, ids)
	}
	if code, out := m.run("plan", "--exit-code"); code != 0 {
		t.Fatalf("not converged:\n%s", out)
	}
	testkit.AssertAlive(t, bystander)
}
