package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
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

// startMoor runs the moor binary with args until the test ends, and logs
// its output then.
func startMoor(t *testing.T, args ...string) *syncBuffer {
	t.Helper()
	return startMoorEnv(t, nil, args...)
}

// startMoorEnv is startMoor with env added to the process's environment.
func startMoorEnv(t *testing.T, env []string, args ...string) *syncBuffer {
	t.Helper()
	bin, err := buildMoor()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		t.Logf("moor %s log:\n%s", args[0], logs.String())
	})
	return logs
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

// TestWebhookTriggersDeploy: with an hour-long interval, a signed push
// webhook makes moor deploy a new commit at once; an unsigned one does not.
func TestWebhookTriggersDeploy(t *testing.T) {
	testkit.Docker(t)
	bin, err := buildMoor()
	if err != nil {
		t.Fatal(err)
	}
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	port, hookPort := testkit.FreePort(t), testkit.FreePort(t)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "1", "1"))
	repo.Commit("v1")
	// A remote repository: a local one would be watched, and deploy the
	// commit without any webhook.
	root := t.TempDir()
	bare := filepath.Join(root, "deploy.git")
	repo.Git("clone", "--quiet", "--bare", repo.Dir, bare)
	server := testkit.GitHTTP(t, root, "", "")
	dir := t.TempDir()
	secret := "s3cret"
	os.WriteFile(filepath.Join(dir, "secret"), []byte(secret+"\n"), 0o600)
	cfg := fmt.Sprintf(`state_dir: %s
listen: 127.0.0.1:%d
sources:
  - name: %s
    repo: %s
    interval: 1h
    webhook:
      secret_file: %s
`, filepath.Join(dir, "state"), hookPort, stack, server.URL("deploy.git"), filepath.Join(dir, "secret"))
	os.WriteFile(filepath.Join(dir, "moor.yaml"), []byte(cfg), 0o600)

	var logs syncBuffer
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "moor.yaml"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		t.Logf("moor run log:\n%s", logs.String())
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	get(t, url)

	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "2", "1"))
	repo.Commit("v2")
	repo.Git("push", "--quiet", bare, "main")
	hook := fmt.Sprintf("http://127.0.0.1:%d/hooks/generic/%s", hookPort, stack)
	body := `{"ref": "refs/heads/main"}`
	post := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(body))
		if sig != "" {
			req.Header.Set("X-Moor-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("sha256=" + strings.Repeat("0", 64)); code != http.StatusUnauthorized {
		t.Fatalf("badly signed hook: %d", code)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	if code := post("sha256=" + hex.EncodeToString(mac.Sum(nil))); code != http.StatusAccepted {
		t.Fatalf("signed hook: %d", code)
	}
	testkit.Eventually(t, 30*time.Second, "v2 deployed by the webhook", func() bool {
		_, b, err := testkit.HTTPGet(url)
		return err == nil && strings.Contains(b, "version=2")
	})

	// The runs are counted on /metrics, with the process's own figures.
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", hookPort)
	testkit.Eventually(t, 10*time.Second, "/metrics counts the successful runs", func() bool {
		code, b, err := testkit.HTTPGet(metrics)
		return err == nil && code == http.StatusOK &&
			strings.Contains(b, `moor_runs_total{result="success",source="`+stack+`"}`) &&
			strings.Contains(b, `moor_source_unreachable{source="`+stack+`"} 0`) &&
			strings.Contains(b, "process_resident_memory_bytes")
	})
}

// TestLocalRepositoryWatched: a repository on the host is watched, so a
// commit deploys at once even with an hour-long interval.
func TestLocalRepositoryWatched(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", workerCompose(img, "1"))
	repo.Commit("v1")
	startMoor(t, "run", "--repo", repo.Dir, "--name", stack, "--state-dir", t.TempDir(), "--interval", "1h", "--listen", "off")
	worker := stack + "-worker-1"
	testkit.Eventually(t, 30*time.Second, "v1 deployed", func() bool { return containers(t, cli, stack)[worker] != "" })
	first := containers(t, cli, stack)[worker]
	repo.Write(stack+"/compose.yaml", workerCompose(img, "2"))
	repo.Commit("v2")
	testkit.Eventually(t, 30*time.Second, "v2 deployed without waiting for the hour", func() bool {
		id := containers(t, cli, stack)[worker]
		return id != "" && id != first
	})
}
