package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
)

// buildOps are the build ops the ledger of state recorded, in order, as
// "RESULT REVISION ERROR".
func buildOps(t *testing.T, state string) []string {
	t.Helper()
	recs, _, err := ledger.Read(filepath.Join(state, "ledger.jsonl")) // a line being written is skipped
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		for _, op := range r.Ops {
			if strings.HasPrefix(op.Op, "build ") {
				out = append(out, op.Result+" "+r.Revision+" "+op.Error)
			}
		}
	}
	return out
}

// recorded reports whether the ledger of state holds a run of revision rev.
func recorded(t *testing.T, state, rev string) bool {
	t.Helper()
	recs, _, err := ledger.Read(filepath.Join(state, "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Revision == rev {
			return true
		}
	}
	return false
}

// TestRunBuilds runs the controller as a process on a stack built on the
// host: it builds and serves at start, a commit outside the build context
// builds nothing, a changed context file is built and deployed, and a
// broken Dockerfile fails its build while the old container keeps serving.
func TestRunBuilds(t *testing.T) {
	t.Parallel() // its own stack, images and state; it mostly waits on the engine
	cli := testkit.Docker(t)
	stack := testkit.StackName(t)
	testkit.CleanupBuilds(t, stack)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	port := testkit.FreePort(t)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", buildCompose(stack, port))
	repo.Write(stack+"/app/Dockerfile", buildDockerfile)
	repo.Write(stack+"/app/version.txt", "1\n")
	repo.Write(stack+"/app/testapp", string(testkit.TestAppBinary(t)))
	if err := os.Chmod(filepath.Join(repo.Dir, stack, "app", "testapp"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo.Commit("built on the host")
	state := t.TempDir()
	startMoor(t, "run", "--repo", repo.Dir, "--name", stack, "--state-dir", state,
		"--interval", "1s", "--listen", "off", "--log-format", "json")
	url := fmt.Sprintf("http://127.0.0.1:%d/file?path=/srv/version.txt", port)
	served := func(want string) {
		t.Helper()
		testkit.Eventually(t, 90*time.Second, "the service serves "+want, func() bool {
			_, body, err := testkit.HTTPGet(url)
			return err == nil && body == want
		})
	}
	served("1\n")
	testkit.Eventually(t, 60*time.Second, "the first build recorded", func() bool { return len(buildOps(t, state)) >= 1 })
	if ops := buildOps(t, state); len(ops) != 1 || !strings.HasPrefix(ops[0], "ok ") {
		t.Fatalf("builds after start: %q, want one that succeeded", ops)
	}
	web := stack + "-web-1"
	first := containers(t, cli, stack)[web]

	docs := "main@sha1:" + commitFile(repo, stack+"/NOTES.md", "outside the build context\n", "notes")
	testkit.Eventually(t, 60*time.Second, "the notes commit applied", func() bool { return recorded(t, state, docs) })
	if ops := buildOps(t, state); len(ops) != 1 {
		t.Fatalf("a commit outside the context built: %q", ops)
	}
	if got := containers(t, cli, stack)[web]; got != first {
		t.Fatalf("a commit outside the context replaced %s", web)
	}

	commitFile(repo, stack+"/app/version.txt", "2\n", "version 2")
	served("2\n")
	// The ledger records the run once it ends, after the service answers.
	testkit.Eventually(t, 60*time.Second, "the second build recorded", func() bool { return len(buildOps(t, state)) >= 2 })
	second := containers(t, cli, stack)[web]
	if ops := buildOps(t, state); len(ops) != 2 || !strings.HasPrefix(ops[1], "ok ") || second == first {
		t.Fatalf("after a context change: builds %q, container %s -> %s; want a second build and a new container", ops, first, second)
	}

	broken := "main@sha1:" + commitFile(repo, stack+"/app/Dockerfile", "FROM scratch\nCOPY missing.txt /\n", "broken")
	testkit.Eventually(t, 60*time.Second, "the broken build recorded", func() bool {
		ops := buildOps(t, state)
		return len(ops) == 3 && strings.HasPrefix(ops[2], "failed "+broken) && strings.Contains(ops[2], "missing.txt")
	})
	if got := containers(t, cli, stack); len(got) != 1 || got[web] != second {
		t.Fatalf("a failed build changed the containers: %v, want only %s", got, second)
	}
	served("2\n")
	testkit.AssertAlive(t, bystander)
}

// commitFile writes one file and commits it; it returns the new head.
func commitFile(repo *testkit.Repo, path, content, msg string) string {
	repo.Write(path, content)
	return repo.Commit(msg)
}
