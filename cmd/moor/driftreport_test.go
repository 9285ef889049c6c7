package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// TestDriftReport: with drift: report, a container stopped by hand stays
// stopped; status and /metrics report the drift. A new commit is still
// deployed, and the deploy converges the whole stack.
func TestDriftReport(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", workerCompose(img, "1"))
	repo.Commit("v1")
	dir, state := t.TempDir(), t.TempDir()
	listen := testkit.FreePort(t)
	cfg := fmt.Sprintf("state_dir: %s\nlisten: 127.0.0.1:%d\nsources:\n  - name: %s\n    repo: %s\n    interval: 1s\n    drift: report\n",
		state, listen, stack, repo.Dir)
	if err := os.WriteFile(filepath.Join(dir, "moor.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	startMoor(t, "run", "--config", filepath.Join(dir, "moor.yaml"))
	m := &moor{t: t, stateDir: state, source: stack}
	worker := stack + "-worker-1"
	running := func() bool {
		res, err := cli.ContainerInspect(t.Context(), worker, client.ContainerInspectOptions{})
		return err == nil && res.Container.State.Running
	}
	testkit.Eventually(t, 30*time.Second, "v1 deployed", running)

	if _, err := cli.ContainerStop(t.Context(), worker, client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "status reports the drift", func() bool {
		_, status := m.run("status")
		return strings.Contains(status, "not repaired (drift: report)") && strings.Contains(status, "start "+stack+"/worker/1") &&
			strings.Contains(status, stack+"/worker drifted          0/1") // a stopped service is not in sync
	})
	// moor status plans against the engine as it is; the controller sees
	// the drift at its next poll.
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", listen)
	testkit.Eventually(t, 30*time.Second, "/metrics counts the drift", func() bool {
		code, body, err := testkit.HTTPGet(metrics)
		return err == nil && code == http.StatusOK && strings.Contains(body, `moor_drift_operations{source="`+stack+`"} 1`)
	})
	// Three polls later it is still stopped: reported, not repaired.
	testkit.Eventually(t, 30*time.Second, "three polls that found the drift", func() bool {
		_, body, _ := testkit.HTTPGet(metrics)
		for _, n := range []string{"3", "4", "5", "6"} {
			if strings.Contains(body, `moor_runs_total{result="drift",source="`+stack+`"} `+n+"\n") {
				return true
			}
		}
		return false
	})
	if running() {
		t.Fatal("drift: report repaired the drift")
	}
	_, history := m.run("history")
	if strings.Contains(history, " drift ") {
		t.Errorf("drift was written to the ledger:\n%s", history)
	}

	// A new revision is deployed, and with it the stack converges.
	repo.Write(stack+"/compose.yaml", workerCompose(img, "2"))
	repo.Commit("v2")
	testkit.Eventually(t, 30*time.Second, "v2 deployed", func() bool {
		res, err := cli.ContainerInspect(t.Context(), worker, client.ContainerInspectOptions{})
		return err == nil && res.Container.State.Running && contains(res.Container.Config.Env, "VERSION=2")
	})
}
