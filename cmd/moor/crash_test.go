package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
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

// TestKillAtEveryStep kills moor with SIGKILL at every step boundary of a
// create and of both kinds of replacement (stop-first for web, which
// publishes a port; start-first for worker), then runs it again: the host
// converges with exactly one container per replica, no leftovers, the
// volume's data intact and an unrelated container untouched (invariant 6).
func TestKillAtEveryStep(t *testing.T) {
	cli := testkit.Docker(t)
	bin, err := buildMoor()
	if err != nil {
		t.Fatal(err)
	}
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
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

	steps := []string{
		"create/created", "create/started",
		"replace/created-candidate", "replace/started-candidate", "replace/candidate-ready", "replace/exposed-candidate",
		"replace/stopped-old", "replace/retired-old", "replace/promoted", "replace/started-new",
		"replace/removed-old",
	}
	for i, step := range steps {
		version := i + 1
		extra := strings.HasPrefix(step, "create/")
		if extra {
			// Start from a host without the extra service, so it is created.
			repo.Write(stack+"/compose.yaml", crashCompose(img, port, version, false))
			repo.Commit(fmt.Sprintf("v%d without extra", version))
			m.mustApply()
		}
		repo.Write(stack+"/compose.yaml", crashCompose(img, port, version, extra))
		repo.Commit(fmt.Sprintf("v%d, killed at %s", version, step))

		cmd := exec.Command(bin, "apply", "--repo", repo.Dir, "--name", stack, "--state-dir", m.stateDir, "--log-level", "error")
		cmd.Env = append(os.Environ(), "MOOR_TEST_CRASH_AT="+step)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s: moor was not killed at the step (err %v):\n%s", step, err, out)
		}

		m.mustApply()
		if code, out := m.run("plan", "--exit-code"); code != 0 {
			t.Fatalf("%s: not converged after the repair run:\n%s", step, out)
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
			t.Fatalf("%s: containers %v, want %v", step, got, want)
		}
		if body := get(t, url+"/"); !strings.Contains(body, fmt.Sprintf("version=%d", version)) {
			t.Fatalf("%s: web answers %q", step, body)
		}
		if body := get(t, url+"/file?path=/data/kept"); body != "precious" {
			t.Fatalf("%s: volume data %q", step, body)
		}
		testkit.AssertAlive(t, bystander)
	}
}
