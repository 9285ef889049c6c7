package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// hookStack is a service with compose's lifecycle hooks, as version v: its
// post_start and pre_stop append a line to ./data/marks (pre_stop only
// while the container still serves), or post_start fails with exit code 3
// when failStart. Its worker's pre_stop always fails.
func hookStack(img string, port int, v string, failStart bool) string {
	postStart := `[/testapp, mark, /data/marks, post_start]`
	if failStart {
		postStart = `[/testapp, exit, "3", migration failed]`
	}
	return fmt.Sprintf(`services:
  app:
    image: %[1]s
    environment:
      VERSION: "%[3]s"
    ports: ["127.0.0.1:%[2]d:8080"]
    volumes:
      - ./data:/data
    post_start:
      - command: %[4]s
    pre_stop:
      - command: [/testapp, mark, -serving, marks, pre_stop]
        working_dir: /data
    stop_grace_period: 5s
  worker:
    image: %[1]s
    pre_stop:
      - command: [/testapp, exit, "5", cannot drain]
`, img, port, v, postStart)
}

// TestHooksOnTheEngine: on the real engine, post_start runs in each
// container moor starts; pre_stop runs in the old container of a rollout
// while it still serves, before it is stopped, and before a removal; a
// post_start that fails rolls the replica back to its old container, which
// serves again, and the error names the hook, its exit code and output; a
// pre_stop that fails is a warning, and its container goes all the same.
func TestHooksOnTheEngine(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	other := stack + "-o" // keeps the revision from being empty once stack is removed
	testkit.CleanupStack(t, other)
	bystander := testkit.Unrelated(t, stack)
	port := testkit.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	marksFile := filepath.Join(m.stateDir, "stacks", stack, stack, "data", "marks")
	marks := func(when string, want ...string) {
		t.Helper()
		b, err := os.ReadFile(marksFile)
		if got := strings.Split(strings.TrimSpace(string(b)), "\n"); err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: ./data/marks holds %q (%v), want the lines %q", when, b, err, want)
		}
	}
	name := stack + "-app-1"

	repo.Write(other+"/compose.yaml", "services:\n  idle:\n    image: "+img+"\n    restart: unless-stopped\n")
	repo.Write(stack+"/compose.yaml", hookStack(img, port, "1", false))
	repo.Commit("v1")
	m.mustApply()
	marks("after the first apply", "post_start version=1")
	v1 := containers(t, cli, stack)[name]

	// A rollout (stop-first: the port is published): the old container's
	// pre_stop ran while it still served, then the new one's post_start.
	repo.Write(stack+"/compose.yaml", hookStack(img, port, "2", false))
	repo.Commit("v2")
	m.mustApply()
	v2 := containers(t, cli, stack)[name]
	if v2 == v1 {
		t.Fatal("v2 did not replace the container")
	}
	marks("after the rollout", "post_start version=1", "pre_stop version=1", "post_start version=2")
	if body := get(t, url); !strings.Contains(body, "version=2") {
		t.Fatalf("after the rollout the service answers %q", body)
	}

	// A post_start that fails: the new container is rejected and the old
	// one, drained by its pre_stop, runs and serves again.
	repo.Write(stack+"/compose.yaml", hookStack(img, port, "3", true))
	repo.Commit("v3, its post_start fails")
	code, out := m.run("apply")
	if code == 0 {
		t.Fatalf("apply of a failing post_start exited 0:\n%s", out)
	}
	for _, want := range []string{`service app: post_start[0] ["/testapp","exit","3","migration failed"] exited with code 3`, `hook said: "migration failed"`, "old container restored"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply's output lacks %q:\n%s", want, out)
		}
	}
	if after := containers(t, cli, stack); len(after) != 2 || after[name] != v2 {
		t.Fatalf("the old container was not restored: %v, want %s and the worker", after, rolloutShort(v2))
	}
	res, err := cli.ContainerInspect(t.Context(), v2, client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil || !res.Container.State.Running {
		t.Fatalf("the old container does not run: %v", err)
	}
	if body := get(t, url); !strings.Contains(body, "version=2") {
		t.Fatalf("after the failed rollout the service answers %q", body)
	}
	marks("after the failed rollout", "post_start version=1", "pre_stop version=1", "post_start version=2", "pre_stop version=2")
	failed := failedOps(ledgerRecords(t, m, stack), stack+"/app/1")
	if len(failed) != 1 || !strings.Contains(failed[0].Error, "post_start[0]") || !strings.Contains(failed[0].Error, "exited with code 3") {
		t.Errorf("the ledger's failed ops: %+v, want the replace failed by its post_start", failed)
	}

	// The stack removed from git: its containers are drained, then
	// removed; the worker's failing pre_stop is a warning, not a failure.
	repo.Remove(stack)
	repo.Commit("the stack removed")
	out = m.mustApply()
	if want := `warning: pre_stop ` + stack + `-worker-1 failed, going on: service worker: pre_stop[0] ["/testapp","exit","5","cannot drain"] exited with code 5 (hook said: "cannot drain")`; !strings.Contains(out, want) {
		t.Errorf("apply's output lacks\n%s\n%s", want, out)
	}
	if recs := ledgerRecords(t, m, stack); len(recs) == 0 || !strings.Contains(strings.Join(recs[len(recs)-1].Notes, "\n"), "pre_stop "+stack+"-worker-1 failed, going on") {
		t.Errorf("the ledger's last record does not note the failed pre_stop: %+v", recs[len(recs)-1:])
	}
	if n := len(containers(t, cli, stack)); n != 0 {
		t.Fatalf("%d containers left of a stack removed from git", n)
	}
	marks("after the removal", "post_start version=1", "pre_stop version=1", "post_start version=2", "pre_stop version=2", "pre_stop version=2")
	testkit.AssertAlive(t, bystander)
}
