package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/internal/testkit"
)

// TestGitServerOutage: the git server (smart HTTP, git http-backend) goes
// down under a running moor: nothing on the host is touched, status says
// since when the source is unreachable and what runs, and when the server
// comes back the next commit is deployed without anyone restarting moor.
func TestGitServerOutage(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", workerCompose(img, "1"))
	repo.Commit("v1")
	root := t.TempDir()
	repo.Git("clone", "--quiet", "--bare", repo.Dir, filepath.Join(root, "deploy.git"))
	push := func() { repo.Git("push", "--quiet", "--force", filepath.Join(root, "deploy.git"), "main") }
	server := testkit.GitHTTP(t, root, "", "")
	state := t.TempDir()

	startMoor(t, "run", "--repo", server.URL("deploy.git"), "--name", stack, "--state-dir", state, "--interval", "1s", "--listen", "off", "--log-format", "json")
	m := &moor{t: t, stateDir: state, source: stack}
	worker := stack + "-worker-1"
	testkit.Eventually(t, 30*time.Second, "v1 deployed", func() bool { return containers(t, cli, stack)[worker] != "" })
	before := containers(t, cli, stack)

	server.Stop()
	testkit.Eventually(t, 30*time.Second, "status says the source is unreachable", func() bool {
		_, status := m.run("status")
		return strings.Contains(status, "source unreachable since") && strings.Contains(status, "last good revision main@sha1:")
	})
	if got := containers(t, cli, stack); !equalMaps(got, before) {
		t.Fatalf("the outage changed the host: %v -> %v", before, got)
	}

	// The server comes back with a new commit: moor deploys it by itself.
	repo.Write(stack+"/compose.yaml", workerCompose(img, "2"))
	repo.Commit("v2")
	push()
	server.Start()
	testkit.Eventually(t, 60*time.Second, "v2 deployed after the outage", func() bool {
		id := containers(t, cli, stack)[worker]
		return id != "" && id != before[worker]
	})
	testkit.Eventually(t, 10*time.Second, "status clears the outage", func() bool {
		_, status := m.run("status")
		return !strings.Contains(status, "unreachable")
	})
}
