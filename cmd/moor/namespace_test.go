package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// vpnCompose is the VPN sidecar pattern: app serves on 8081 inside vpn's
// network namespace, and vpn publishes that port.
func vpnCompose(img string, port int, vpnVersion string) string {
	return fmt.Sprintf(`services:
  vpn:
    image: %[1]s
    environment:
      VERSION: "%[3]s"
    ports: ["127.0.0.1:%[2]d:8081"]
  app:
    image: %[1]s
    network_mode: service:vpn
    environment:
      PORT: "8081"
      VERSION: app
`, img, port, vpnVersion)
}

func networkMode(t *testing.T, cli *client.Client, id string) string {
	t.Helper()
	res, err := cli.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(res.Container.HostConfig.NetworkMode)
}

// TestSharedNetworkNamespace: a service with network_mode service:vpn runs
// in vpn's namespace and is reached through vpn's published port; when vpn
// is replaced, it is replaced after it, into the new namespace, as compose
// recreates it; docker compose agrees (up -d recreates nothing); and when
// vpn restarts behind moor's back, which leaves app without a network,
// the next run replaces app.
func TestSharedNetworkNamespace(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	port := testkit.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	repo.Write(stack+"/compose.yaml", vpnCompose(img, port, "1"))
	repo.Commit("v1")
	m := newMoor(t, repo.Dir, stack)
	m.mustApply()
	if body := get(t, url); !strings.Contains(body, "version=app") {
		t.Fatalf("GET through vpn's port: %q, want app's answer", body)
	}
	v1 := containers(t, cli, stack)
	vpn, app := stack+"-vpn-1", stack+"-app-1"
	if got := networkMode(t, cli, v1[app]); got != "container:"+v1[vpn] {
		t.Errorf("app's network mode %q, want container:%s", got, v1[vpn])
	}

	repo.Write(stack+"/compose.yaml", vpnCompose(img, port, "2"))
	repo.Commit("vpn v2")
	_, plan := m.run("plan")
	if !strings.Contains(plan, "replace "+stack+"/app/1 (shares the network namespace of vpn, whose container is replaced)") {
		t.Errorf("the plan does not replace app with vpn:\n%s", plan)
	}
	m.mustApply()
	v2 := containers(t, cli, stack)
	if v2[vpn] == v1[vpn] || v2[app] == v1[app] {
		t.Fatalf("vpn and app not both replaced: before %v, after %v", v1, v2)
	}
	if got := networkMode(t, cli, v2[app]); got != "container:"+v2[vpn] {
		t.Errorf("app's network mode %q after the replacement, want container:%s", got, v2[vpn])
	}
	if body := get(t, url); !strings.Contains(body, "version=app") {
		t.Errorf("GET through the new vpn: %q, want app's answer", body)
	}
	if code, out := m.run("plan", "--exit-code"); code != 0 {
		t.Errorf("plan after the replacement is not empty: exit %d\n%s", code, out)
	}
	dir := filepath.Join(m.stateDir, "stacks", stack, stack)
	testkit.Compose(t, dir, "up", "-d")
	if after := containers(t, cli, stack); fmt.Sprint(after) != fmt.Sprint(v2) {
		t.Errorf("docker compose up -d recreated containers:\nbefore %v\nafter  %v", v2, after)
	}

	// A restart of vpn makes a new namespace; app is left in the old one.
	if _, err := cli.ContainerRestart(t.Context(), v2[vpn], client.ContainerRestartOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, _, err := testkit.HTTPGet(url); err == nil && code == 200 {
		t.Errorf("app still answers after vpn restarted: the test does not show the failure it guards against")
	}
	_, plan = m.run("plan")
	if !strings.Contains(plan, "replace "+stack+"/app/1 (the container whose network namespace it shares restarted after it") {
		t.Errorf("the plan does not replace app, cut off from the network:\n%s", plan)
	}
	m.mustApply()
	if body := get(t, url); !strings.Contains(body, "version=app") {
		t.Errorf("GET after vpn restarted and moor ran: %q, want app's answer", body)
	}
	if code, out := m.run("plan", "--exit-code"); code != 0 {
		t.Errorf("plan after app was replaced is not empty: exit %d\n%s", code, out)
	}
}

func namedCompose(img, name string, port int, dbVersion string) string {
	return fmt.Sprintf(`services:
  db:
    image: %[1]s
    container_name: %[2]s
    environment:
      VERSION: "%[4]s"
  app:
    image: %[1]s
    links: ["db:legacydb"]
    ports: ["127.0.0.1:%[3]d:8080"]
`, img, name, port, dbVersion)
}

// TestContainerNameAndLinks: container_name names the container, and a
// replacement keeps the name; a link's alias reaches the linked container
// from the linking one, as compose makes it, and the linking one is
// restarted when the linked one is replaced; a name held by a container
// moor does not own is an error that names it, and that container is left
// alone.
func TestContainerNameAndLinks(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	port := testkit.FreePort(t)
	name := stack + "-database"
	repo.Write(stack+"/compose.yaml", namedCompose(img, name, port, "1"))
	repo.Commit("v1")
	m := newMoor(t, repo.Dir, stack)
	m.mustApply()
	v1 := containers(t, cli, stack)
	if v1[name] == "" {
		t.Fatalf("no container named %s: %v", name, v1)
	}
	app := v1[stack+"-app-1"]
	if code, out := execIn(t, cli, app, "/testapp", "get", "http://legacydb:8080/"); code != 0 || !strings.Contains(out, "version=1") {
		t.Errorf("the link alias from app: exit %d, %q; want db's answer", code, out)
	}

	repo.Write(stack+"/compose.yaml", namedCompose(img, name, port, "2"))
	repo.Commit("db v2")
	// A link is a depends_on with restart: true: app is restarted after
	// db is replaced, as compose does.
	if _, plan := m.run("plan"); !strings.Contains(plan, "restart "+stack+"/app/1 (depends on db with restart: true, which is replaced)") {
		t.Errorf("the plan does not restart app after db:\n%s", plan)
	}
	m.mustApply()
	v2 := containers(t, cli, stack)
	if v2[name] == "" || v2[name] == v1[name] || len(v2) != 2 || v2[stack+"-app-1"] != app {
		t.Fatalf("db not replaced under its name, or app not kept: before %v, after %v", v1, v2)
	}
	if code, out := execIn(t, cli, v2[stack+"-app-1"], "/testapp", "get", "http://legacydb:8080/"); code != 0 || !strings.Contains(out, "version=2") {
		t.Errorf("the link alias after db was replaced: exit %d, %q; want the new db's answer", code, out)
	}
	dir := filepath.Join(m.stateDir, "stacks", stack, stack)
	testkit.Compose(t, dir, "up", "-d")
	if after := containers(t, cli, stack); fmt.Sprint(after) != fmt.Sprint(v2) {
		t.Errorf("docker compose up -d recreated containers:\nbefore %v\nafter  %v", v2, after)
	}

	// Another stack asks for a name a container moor does not own holds.
	other := testkit.StackName(t) + "x"
	testkit.CleanupStack(t, other)
	held := other + "-held"
	bystander := testkit.RunByHand(t, other, held, img)
	repo.Write(other+"/compose.yaml", fmt.Sprintf("services:\n  db:\n    image: %s\n    container_name: %s\n", img, held))
	repo.Commit("a name that is taken")
	code, out := m.run("apply")
	if code == 0 || !strings.Contains(out, held) || !strings.Contains(out, "a container moor does not manage") {
		t.Errorf("apply onto a name held by another container: exit %d\n%s\nwant a failure naming %s", code, out, held)
	}
	testkit.AssertAlive(t, bystander)
}
