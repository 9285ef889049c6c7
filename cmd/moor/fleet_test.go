package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// fleetStack is a stack of one service, app, whose GREETING names the
// host it runs for and a variable of the host's.
func fleetStack(img, xmoor, version string) string {
	return xmoor + fmt.Sprintf(`services:
  app:
    image: %s
    environment:
      VERSION: "%s"
      GREETING: "${MOOR_HOST_NAME}/${MOOR_HOST_LABEL_ROLE}/${SITE:-none}"
    restart: unless-stopped
`, img, version)
}

// greeting is the GREETING of the stack's container app-1.
func greeting(t *testing.T, cli *client.Client, stack string) string {
	t.Helper()
	res, err := cli.ContainerInspect(context.Background(), stack+"-app-1", client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range res.Container.Config.Env {
		if v, ok := strings.CutPrefix(kv, "GREETING="); ok {
			return v
		}
	}
	return ""
}

// ledgerLines counts the records a state dir's ledger holds.
func ledgerLines(t *testing.T, state string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "ledger.jsonl"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// TestFleetHosts: two `moor run` processes, host-a (role=web) and host-b
// (role=db), each with its own state dir, deploy from one repository to
// one engine, each exactly its own stacks: its hosts/ directory, its
// group's, the shared ones whose x-moor takes it; a stack for a third
// host runs nowhere. The host's variables reach its containers. What
// `moor plan --host` showed for host-a is what host-a applied. A commit
// to host-a's stack replaces it on host-a, and changes nothing on host-b:
// its container IDs are kept, its ledger gets no record, and its log says
// the revision changes nothing it reads. A stack whose x-moor no longer
// takes host-a is removed from it, not held as broken.
func TestFleetHosts(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	p := testkit.StackName(t)
	names := map[string]string{} // role -> stack name
	for _, role := range []string{"a1", "web", "b1", "db", "c"} {
		names[role] = p + "-" + role
		testkit.CleanupStack(t, names[role])
	}
	bystander := testkit.Unrelated(t, p)
	repo := testkit.NewRepo(t)
	repo.Write("hosts/host-a/"+names["a1"]+"/compose.yaml", fleetStack(img, "", "1"))
	repo.Write("hosts/host-a/variables.env", "SITE=site-a\n")
	repo.Write(names["web"]+"/compose.yaml", fleetStack(img, "x-moor:\n  host_labels: {role: web}\n", "1"))
	repo.Write("hosts/host-b/"+names["b1"]+"/compose.yaml", fleetStack(img, "", "1"))
	repo.Write("groups/role=db/"+names["db"]+"/compose.yaml", fleetStack(img, "", "1"))
	repo.Write("groups/role=db/variables.env", "SITE=site-db\n")
	repo.Write(names["c"]+"/compose.yaml", fleetStack(img, "x-moor:\n  hosts: [host-c]\n", "1"))
	repo.Commit("fleet")

	// What host-a would do, planned before it runs, with no state of its
	// own: a CI job's view.
	planner := newMoor(t, repo.Dir, "fleet")
	code, plan := planner.run("plan", "--host", "host-a", "--labels", "role=web")
	if code != 0 {
		t.Fatalf("plan --host host-a: exit %d\n%s", code, plan)
	}
	opRE := regexp.MustCompile(`(?m)^\s*create (` + regexp.QuoteMeta(p) + `-[a-z0-9]+)/app/1\b`)
	var planned []string
	for _, m := range opRE.FindAllStringSubmatch(plan, -1) {
		planned = append(planned, m[1])
	}
	slices.Sort(planned)

	stateA, stateB := t.TempDir(), t.TempDir()
	args := func(state, host, labels string) []string {
		return []string{"run", "--repo", repo.Dir, "--name", "fleet", "--state-dir", state, "--host", host, "--labels", labels,
			"--interval", "1s", "--listen", "off", "--log-format", "json", "--log-level", "debug"}
	}
	startMoor(t, args(stateA, "host-a", "role=web")...)
	logsB := startMoor(t, args(stateB, "host-b", "role=db")...)

	running := func(stack string) bool {
		got := containers(t, cli, stack)
		_, ok := got[stack+"-app-1"]
		return len(got) == 1 && ok
	}
	// Converged: each host recorded its first apply, which it does once
	// every op is done.
	testkit.Eventually(t, 60*time.Second, "both hosts converged", func() bool {
		return ledgerLines(t, stateA) == 1 && ledgerLines(t, stateB) == 1 &&
			running(names["a1"]) && running(names["web"]) && running(names["b1"]) && running(names["db"])
	})
	if got := containers(t, cli, names["c"]); len(got) != 0 {
		t.Errorf("the stack for host-c runs: %v", got)
	}
	if diff := cmp.Diff([]string{names["a1"], names["web"]}, planned); diff != "" {
		t.Errorf("plan --host host-a (-applied by host-a +planned):\n%s\n%s", diff, plan)
	}
	for role, want := range map[string]string{"a1": "host-a/web/site-a", "web": "host-a/web/site-a", "b1": "host-b/db/site-db", "db": "host-b/db/site-db"} {
		if got := greeting(t, cli, names[role]); got != want {
			t.Errorf("%s: GREETING %q, want %q", names[role], got, want)
		}
	}

	// Host-b's ledger has its first apply, and must not grow.
	idsB := map[string]map[string]string{"b1": containers(t, cli, names["b1"]), "db": containers(t, cli, names["db"])}
	idsA := containers(t, cli, names["a1"])

	repo.Write("hosts/host-a/"+names["a1"]+"/compose.yaml", fleetStack(img, "", "2"))
	head := repo.Commit("host-a only")
	testkit.Eventually(t, 60*time.Second, "host-a replaced its stack", func() bool {
		got := containers(t, cli, names["a1"])
		return len(got) == 1 && !equalMaps(got, idsA)
	})
	testkit.Eventually(t, 30*time.Second, "host-b saw the commit", func() bool {
		for _, line := range strings.Split(logsB.String(), "\n") {
			if strings.Contains(line, "changes nothing this host reads") && strings.Contains(line, head) {
				return true
			}
		}
		return false
	})
	for role, before := range idsB {
		if got := containers(t, cli, names[role]); !equalMaps(got, before) {
			t.Errorf("host-b's %s changed: %v -> %v", names[role], before, got)
		}
	}
	if n := ledgerLines(t, stateB); n != 1 {
		t.Errorf("host-b's ledger has %d records, want 1", n)
	}
	status := &moor{t: t, stateDir: stateB}
	if code, out := status.run("status"); code != 0 || !strings.Contains(out, head[:12]) {
		t.Errorf("host-b's status does not show %s: exit %d\n%s", head, code, out)
	}

	// A stack that is no longer for host-a is removed there, as a stack
	// removed from git is; the rest stays as it is.
	idsA = containers(t, cli, names["a1"])
	repo.Write(names["web"]+"/compose.yaml", fleetStack(img, "x-moor:\n  hosts: [host-c]\n", "1"))
	repo.Commit("web moves to host-c")
	testkit.Eventually(t, 60*time.Second, "host-a removed the stack", func() bool { return len(containers(t, cli, names["web"])) == 0 })
	if got := containers(t, cli, names["a1"]); !equalMaps(got, idsA) {
		t.Errorf("host-a's %s changed: %v -> %v", names["a1"], idsA, got)
	}
	planA := &moor{t: t, stateDir: stateA}
	if code, out := planA.run("status"); code != 0 || strings.Contains(out, "broken") {
		t.Errorf("host-a's status: exit %d\n%s", code, out)
	}
	if _, err := cli.ContainerInspect(context.Background(), bystander, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("the unrelated container: %v", err)
	}
}
