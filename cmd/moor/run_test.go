package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moor-dev/moor/internal/testkit"
)

// buildMoor builds the moor binary once per test process.
var buildMoor = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "moor-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "moor")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// syncBuffer is a bytes.Buffer safe for a process to write while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunDeploysCommits runs the controller as a process, the way a user
// does: it converges at start, deploys a new commit within its interval,
// holds the state dir against a second moor, and stops cleanly on SIGTERM.
func TestRunDeploysCommits(t *testing.T) {
	cli := testkit.Docker(t)
	bin, err := buildMoor()
	if err != nil {
		t.Fatal(err)
	}
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	port := testkit.FreePort(t)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "1", "1"))
	repo.Commit("v1")
	state := t.TempDir()

	var logs syncBuffer
	cmd := exec.Command(bin, "run", "--repo", repo.Dir, "--name", stack, "--state-dir", state,
		"--interval", "1s", "--listen", "off", "--log-format", "json")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		t.Logf("moor run log:\n%s", logs.String())
	})

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if body := get(t, url); !strings.Contains(body, "version=1") {
		t.Fatalf("after start: %q", body)
	}

	// A commit is a deploy.
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "2", "1"))
	repo.Commit("v2")
	testkit.Eventually(t, 30*time.Second, "v2 deployed", func() bool {
		_, body, err := testkit.HTTPGet(url)
		return err == nil && strings.Contains(body, "version=2")
	})

	// A second moor on the same state dir refuses to run.
	m := &moor{t: t, repo: repo.Dir, stateDir: state, source: stack}
	if code, out := m.run("apply"); code == 0 || !strings.Contains(out, "another moor process") {
		t.Fatalf("second moor: exit %d\n%s", code, out)
	}

	// SIGTERM stops it cleanly.
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Fatalf("moor run exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("moor run did not stop on SIGTERM")
	}
	if got := containers(t, cli, stack); len(got) != 2 {
		t.Fatalf("containers after stop: %v", got)
	}
}
