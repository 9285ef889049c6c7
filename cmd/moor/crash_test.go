package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

func crashCompose(img string, port, version int, extra bool) string {
	s := fmt.Sprintf(`services:
  web:
    image: %[1]s
    environment:
      VERSION: "%[3]d"
    ports:
      - "127.0.0.1:%[2]d:8080"
    volumes:
      - data:/data
      - ./files:/files
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
      retries: 3
  worker:
    image: %[1]s
    environment:
      VERSION: "%[3]d"
`, img, port, version)
	if extra {
		s += fmt.Sprintf("  extra:\n    image: %s\n", img)
	}
	return s + "volumes:\n  data: {}\n"
}

// TestKillAtEveryStep kills moor with SIGKILL after every step of every
// kind of op a plan holds — a create, a remove, and both kinds of
// replacement (stop-first for web, which publishes a port; start-first for
// worker) — as `moor plan --json` lists them, then runs it again: the host
// converges with exactly one container per replica, no leftovers, the
// data in a volume and in the stack's directory (./files) intact, and an
// unrelated container untouched (invariants 6 and 9).
func TestKillAtEveryStep(t *testing.T) {
	t.Parallel() // its own binary, stack and state; it mostly waits on the engine
	cli := testkit.Docker(t)
	bin, err := buildMoorCrash()
	if err != nil {
		t.Fatal(err)
	}
	img := testkit.TestImage(t)
	// A name of its own each run: a kill -9 mid-connect can leave the
	// engine (Docker 20.10) holding an endpoint on the stack's network
	// that only an engine restart frees, and the next run must not meet it.
	stack := fmt.Sprintf("%s-%04x", testkit.StackName(t), rand.IntN(1<<16))
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	port := testkit.FreePort(t)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)

	repo.Write(stack+"/compose.yaml", crashCompose(img, port, 0, false))
	repo.Commit("v0")
	m.mustApply()
	putFile(t, url, "/data/kept", "precious")
	putFile(t, url, "/files/kept", "written beside the compose file")

	// Every revision changes web and worker, and adds or removes extra in
	// turn: each plan holds two replacements and a create or a remove.
	// The steps to kill at are those of both kinds of plan.
	extra := false
	var pending []string
	seen := map[string]bool{}
	for version := 1; version < 100; version++ {
		extra = !extra
		repo.Write(stack+"/compose.yaml", crashCompose(img, port, version, extra))
		repo.Commit(fmt.Sprintf("v%d", version))
		steps := planSteps(t, m)
		for _, id := range steps {
			if !seen[id] {
				seen[id] = true
				pending = append(pending, id)
			}
		}
		at := ""
		for i, id := range pending {
			if slices.Contains(steps, id) {
				at, pending = id, slices.Delete(pending, i, i+1)
				break
			}
		}
		if at == "" {
			if len(pending) == 0 {
				break // every step of both kinds of plan was killed at
			}
			m.mustApply() // the steps left are the other kind of plan's
			continue
		}

		cmd := exec.Command(bin, "apply", "--repo", repo.Dir, "--name", stack, "--state-dir", m.stateDir, "--log-level", "error")
		cmd.Env = append(os.Environ(), "MOOR_TEST_CRASH_AT="+at)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s: moor was not killed at the step (err %v):\n%s", at, err, out)
		}

		m.mustApply()
		if code, out := m.run("plan", "--exit-code"); code != 0 {
			t.Fatalf("%s: not converged after the repair run:\n%s", at, out)
		}
		want := []string{stack + "-web-1", stack + "-worker-1"}
		if extra {
			want = append(want, stack+"-extra-1")
		}
		sort.Strings(want)
		var got []string
		for name := range containers(t, cli, stack) {
			got = append(got, name)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%s: containers %v, want %v", at, got, want)
		}
		if body := get(t, url+"/"); !strings.Contains(body, fmt.Sprintf("version=%d", version)) {
			t.Fatalf("%s: web answers %q", at, body)
		}
		if body := get(t, url+"/file?path=/data/kept"); body != "precious" {
			t.Fatalf("%s: volume data %q", at, body)
		}
		if body := get(t, url+"/file?path=/files/kept"); body != "written beside the compose file" {
			t.Fatalf("%s: the stack directory's data %q", at, body)
		}
		testkit.AssertAlive(t, bystander)
	}
	t.Logf("killed at %d steps: %v", len(seen), slices.Sorted(maps.Keys(seen)))
	for _, kind := range []string{"create", "remove", "replace " + stack + "/web/1", "replace " + stack + "/worker/1"} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(seen)), func(id string) bool { return strings.HasPrefix(id, kind) }) {
			t.Errorf("no step of %s was killed at", kind)
		}
	}
}

// planSteps returns the IDs of every step of the source's plan, in order,
// as `moor plan --json` gives them.
func planSteps(t *testing.T, m *moor) []string {
	t.Helper()
	code, out := m.run("plan", "--json")
	if code != 0 {
		t.Fatalf("plan --json exited %d:\n%s", code, out)
	}
	var doc struct {
		Plans []struct {
			Ops []struct {
				Steps []struct{ ID string } `json:"steps"`
			} `json:"ops"`
		} `json:"plans"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	var ids []string
	for _, p := range doc.Plans {
		for _, op := range p.Ops {
			for _, s := range op.Steps {
				ids = append(ids, s.ID)
			}
		}
	}
	return ids
}

// buildMoorCrash builds moor with its crash hook (the tag moorcrash), once
// per test process.
var buildMoorCrash = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "moor-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "moor")
	out, err := exec.Command("go", "build", "-tags", "moorcrash", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build -tags moorcrash: %v\n%s", err, out)
	}
	return bin, nil
})
