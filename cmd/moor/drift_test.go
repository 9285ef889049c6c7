package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// TestDriftRepaired: containers stopped, removed or renamed (`docker
// rename`) by hand are repaired by the next run, and the plan says why.
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
		"replace " + stack + "/c/1 (container name changed: " + stack + "-renamed -> " + stack + "-c-1)",
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
	// The container renamed by hand is gone, not kept beside its
	// replacement; every service runs again.
	if got[stack+"-c-1"] == ids[stack+"-c-1"] {
		t.Errorf("c-1 kept the ID of the container renamed by hand; want it removed and replaced")
	}
	for name, id := range got {
		res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil || !res.Container.State.Running {
			t.Errorf("%s after repair: %v %+v", name, err, res.Container.State)
		}
	}
	if code, out := m.run("plan", "--exit-code"); code != 0 {
		t.Fatalf("not converged:\n%s", out)
	}
	testkit.AssertAlive(t, bystander)
}

// TestDriftRenamedHoldingPort: a container renamed by hand that publishes a
// host port keeps holding the port under its new name. The next run must
// still repair the service in one go: the port has to be freed before the
// replacement starts.
func TestDriftRenamedHoldingPort(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	port := testkit.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", fmt.Sprintf("services:\n  web:\n    image: %s\n    ports:\n      - \"127.0.0.1:%d:8080\"\n    restart: unless-stopped\n", img, port))
	repo.Commit("web on a host port")
	m := newMoor(t, repo.Dir, stack)
	m.mustApply()
	get(t, url)
	before := containers(t, cli, stack)

	if _, err := cli.ContainerRename(t.Context(), stack+"-web-1", client.ContainerRenameOptions{NewName: stack + "-mine"}); err != nil {
		t.Fatal(err)
	}
	if code, out := m.run("apply"); code != 0 {
		t.Fatalf("the run after a container holding a host port was renamed by hand did not repair it (exit %d):\n%s", code, out)
	}
	got := containers(t, cli, stack)
	if len(got) != 1 || got[stack+"-web-1"] == "" {
		t.Fatalf("after repair: %v (before %v)", got, before)
	}
	if body := get(t, url); !strings.Contains(body, "version=") {
		t.Fatalf("after repair the port answers %q", body)
	}
	if code, out := m.run("plan", "--exit-code"); code != 0 {
		t.Fatalf("not converged:\n%s", out)
	}
	testkit.AssertAlive(t, bystander)
}
