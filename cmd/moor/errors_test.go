package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// TestBadInput: every bad input gets an error that names the thing at
// fault, and changes nothing.
func TestBadInput(t *testing.T) {
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", "services:\n  app:\n    image: "+img+"\n")
	repo.Commit("one stack")
	repo.Write("bad/compose.yaml", "services:\n  app:\n    image: x:1\n    imagez: typo\n")
	repo.Write("broken/compose.yaml", "services:\n  app:\n    image: [x\n")
	repo.Commit("two broken stacks beside it")

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing repo", []string{"plan", "--repo", "/nonexistent/deploy"}, []string{"/nonexistent/deploy"}},
		{"unknown ref", []string{"plan", "--repo", repo.Dir, "--ref", "nope"}, []string{"nope", "main"}},
		{"missing path", []string{"plan", "--repo", repo.Dir, "--path", "hosts/none"}, []string{"hosts/none", "does not exist"}},
		{"invalid yaml and unknown field name file and field", []string{"plan", "--repo", repo.Dir}, []string{"broken/compose.yaml", "bad/compose.yaml", "imagez"}},
		{"unreachable engine", []string{"plan", "--repo", repo.Dir}, []string{"unix:///nonexistent.sock"}},
		{"bad flag", []string{"plan", "--frobnicate"}, []string{"frobnicate"}},
		{"bad config key", []string{"plan", "--config", writeFile(t, "moor.yaml", "sources:\n  - name: a\n    repo: /x\n    intervall: 1s\n")}, []string{"moor.yaml:4", "intervall"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "unreachable engine" {
				t.Setenv("DOCKER_HOST", "unix:///nonexistent.sock")
			}
			args := append(tt.args, "--state-dir", t.TempDir())
			if tt.args[1] != "--config" {
				args = append(args, "--name", stack)
			}
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), args, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code == 0 {
				t.Fatalf("exit 0 for bad input:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestEmptyRevisionRefused: a revision with no stacks (a wrong path, a
// deleted directory) is refused unless --allow-empty, so it cannot wipe a
// host.
func TestEmptyRevisionRefused(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", "services:\n  app:\n    image: "+img+"\n")
	repo.Commit("one stack")
	m := newMoor(t, repo.Dir, stack)
	m.mustApply()
	repo.Remove(stack)
	repo.Write("README", "nothing here\n")
	repo.Commit("everything gone")
	if code, out := m.run("apply"); code == 0 || !strings.Contains(out, "refusing") {
		t.Fatalf("empty revision: exit %d\n%s", code, out)
	}
	if got := containers(t, cli, stack); len(got) != 1 {
		t.Fatalf("a refused revision changed containers: %v", got)
	}
	if code, out := m.run("apply", "--allow-empty"); code != 0 {
		t.Fatalf("--allow-empty: exit %d\n%s", code, out)
	}
	if got := containers(t, cli, stack); len(got) != 0 {
		t.Fatalf("--allow-empty kept containers: %v", got)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	repo := testkit.NewRepo(t)
	repo.Write(name, content)
	return repo.Dir + "/" + name
}

// TestFailureReportedOnce: a failed apply prints each failed op with its
// error once, and the run's error once on stderr; nothing logs it besides.
func TestFailureReportedOnce(t *testing.T) {
	testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", "services:\n  app:\n    image: "+img+"\n  gone:\n    image: 127.0.0.1:1/moor-missing:v9\n")
	repo.Commit("an image that cannot be pulled")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"apply", "--repo", repo.Dir, "--name", stack, "--state-dir", t.TempDir(), "--log-level", "info"}, &stdout, &stderr)
	if code == 0 {
		t.Fatalf("apply succeeded:\n%s%s", &stdout, &stderr)
	}
	const why = "connect: connection refused"
	if n := strings.Count(stdout.String(), why); n != 1 {
		t.Errorf("stdout says why the pull failed %d times, want once, under the op:\n%s", n, &stdout)
	}
	if n := strings.Count(stderr.String(), why); n != 1 {
		t.Errorf("stderr says why the pull failed %d times, want once (the run's error):\n%s", n, &stderr)
	}
	if strings.Contains(stderr.String(), "WARN") || strings.Contains(stderr.String(), "ERROR") {
		t.Errorf("the failure was logged besides:\n%s", &stderr)
	}
	if strings.Contains(stdout.String()+stderr.String(), "pull 127.0.0.1:1/moor-missing:v9: pull") {
		t.Errorf("the error stutters:\n%s%s", &stdout, &stderr)
	}
}
