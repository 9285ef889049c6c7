package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// interopCompose is a stack with what compose hashes and binds: an
// environment and an env_file, a published port, a healthcheck, a named
// volume, a bind of a file the repository holds and of a directory it does
// not, a dependency, and lifecycle hooks.
func interopCompose(img string, port int, version string) string {
	return fmt.Sprintf(`services:
  web:
    image: %[1]s
    env_file: [app.env]
    environment:
      VERSION: "%[3]s"
    ports: ["127.0.0.1:%[2]d:8080"]
    volumes:
      - data:/data
      - ./conf/app.conf:/etc/app.conf:ro
      - ./uploads:/uploads
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
    restart: unless-stopped
    depends_on: [worker]
  worker:
    image: %[1]s
    restart: unless-stopped
    post_start:
      - command: [/testapp, mark, started]
        working_dir: /tmp
        environment: {MARK: "1"}
    pre_stop:
      - command: [/testapp, exit, "0"]
volumes:
  data: {}
`, img, port, version)
}

// TestComposeSeesMoorsStacks: docker compose v2 sees a stack moor deployed
// (ps, ls, logs, exec), and `docker compose up -d` run on the stack's own files in its
// directory recreates nothing: moor and compose agree on what runs. moor's
// plan after that is empty.
func TestComposeSeesMoorsStacks(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	port := testkit.FreePort(t)
	repo.Write(stack+"/compose.yaml", interopCompose(img, port, "1"))
	repo.Write(stack+"/app.env", "GREETING=hello\n")
	repo.Write(stack+"/conf/app.conf", "level=info\n")
	repo.Commit("v1")
	m := newMoor(t, repo.Dir, stack)
	m.mustApply()
	before := containers(t, cli, stack)
	dir := filepath.Join(m.stateDir, "stacks", stack, stack)

	ps := testkit.Compose(t, dir, "ps", "--format", "{{.Name}} {{.State}}")
	for name := range before {
		if !strings.Contains(ps, name+" running") {
			t.Errorf("docker compose ps does not list %s running:\n%s", name, ps)
		}
	}
	if ls := testkit.Compose(t, dir, "ls", "--all"); !strings.Contains(ls, stack) || !strings.Contains(ls, filepath.Join(dir, "compose.yaml")) {
		t.Errorf("docker compose ls does not list the stack with its file:\n%s", ls)
	}

	if logs := testkit.Compose(t, dir, "logs", "worker"); !strings.Contains(logs, "testapp: version=") {
		t.Errorf("docker compose logs worker shows nothing of the worker's output:\n%s", logs)
	}
	if out := testkit.Compose(t, dir, "exec", "-T", "web", "/testapp", "get", "http://127.0.0.1:8080/"); !strings.Contains(out, "version=1") {
		t.Errorf("docker compose exec web: %q, want the app's answer", out)
	}

	testkit.Compose(t, dir, "up", "-d", "--wait")
	after := containers(t, cli, stack)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("docker compose up -d recreated containers:\nbefore %v\nafter  %v", before, after)
	}
	if code, out := m.run("plan", "--exit-code"); code != 0 {
		t.Errorf("moor plan after docker compose up -d: exit %d\n%s", code, out)
	}
}
