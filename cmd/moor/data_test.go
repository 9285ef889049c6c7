package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// dataStack is a service that keeps its data in ./data, the most common
// layout of a self-hosted stack, as version v (unhealthy: its new
// container never passes its healthcheck).
func dataStack(img string, port int, v string, unhealthy bool) string {
	env := ""
	if unhealthy {
		env = "\n      UNHEALTHY: \"1\""
	}
	return fmt.Sprintf(`services:
  app:
    image: %[1]s
    environment:
      VERSION: "%[3]s"%[4]s
    ports: ["127.0.0.1:%[2]d:8080"]
    volumes:
      - ./data:/data
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
      retries: 2
    restart: unless-stopped
`, img, port, v, env)
}

// TestDataNeverLost: what a container writes into its stack's ./data
// survives a replacement, a failed rollout, the stack's removal from git
// and its return, its containers removed by hand (a rebuilt engine), and
// every new moor process, whether git tracks data/ (a .gitkeep) or not.
func TestDataNeverLost(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	for _, gitkeep := range []bool{false, true} {
		t.Run(fmt.Sprintf("gitkeep=%v", gitkeep), func(t *testing.T) {
			cli := testkit.Docker(t)
			img := testkit.TestImage(t)
			stack := testkit.StackName(t)
			testkit.CleanupStack(t, stack)
			other := stack + "-o"
			testkit.CleanupStack(t, other)
			port := testkit.FreePort(t)
			url := fmt.Sprintf("http://127.0.0.1:%d", port)
			repo := testkit.NewRepo(t)
			m := newMoor(t, repo.Dir, stack)
			dataDir := filepath.Join(m.stateDir, "stacks", stack, stack, "data")
			kept := func(when string) {
				t.Helper()
				if body := get(t, url+"/file?path=/data/f"); body != "precious" {
					t.Fatalf("%s: the app reads %q", when, body)
				}
				if b, err := os.ReadFile(filepath.Join(dataDir, "f")); err != nil || string(b) != "precious" {
					t.Fatalf("%s: %s/f holds %q (%v)", when, dataDir, b, err)
				}
			}

			repo.Write(other+"/compose.yaml", "services:\n  idle:\n    image: "+img+"\n    restart: unless-stopped\n")
			repo.Write(stack+"/compose.yaml", dataStack(img, port, "1", false))
			if gitkeep {
				repo.Write(stack+"/data/.gitkeep", "")
			}
			repo.Commit("v1")
			m.mustApply()
			putFile(t, url, "/data/f", "precious")
			kept("written")

			repo.Write(stack+"/compose.yaml", dataStack(img, port, "2", false))
			repo.Commit("v2")
			old := containers(t, cli, stack)[stack+"-app-1"]
			m.mustApply()
			if containers(t, cli, stack)[stack+"-app-1"] == old {
				t.Fatal("v2 did not replace the container")
			}
			kept("after a replacement")

			repo.Write(stack+"/compose.yaml", dataStack(img, port, "3", true))
			repo.Commit("v3, unhealthy")
			if code, out := m.run("apply"); code == 0 || !strings.Contains(out, "old container restored") {
				t.Fatalf("an unhealthy release was applied: exit %d", code)
			}
			kept("after a failed rollout")

			repo.Remove(stack)
			repo.Commit("the stack removed")
			m.mustApply()
			if n := len(containers(t, cli, stack)); n != 0 {
				t.Fatalf("%d containers left of a stack removed from git", n)
			}
			if b, err := os.ReadFile(filepath.Join(dataDir, "f")); err != nil || string(b) != "precious" {
				t.Fatalf("removing the stack from git took its data: %q %v", b, err)
			}
			repo.Write(stack+"/compose.yaml", dataStack(img, port, "4", false))
			if gitkeep {
				repo.Write(stack+"/data/.gitkeep", "")
			}
			repo.Commit("the stack back")
			m.mustApply()
			kept("after the stack's removal and return")

			// A rebuilt engine: the containers are gone, the disks are not.
			for name := range containers(t, cli, stack) {
				if _, err := cli.ContainerRemove(t.Context(), name, client.ContainerRemoveOptions{Force: true}); err != nil {
					t.Fatal(err)
				}
			}
			m.mustApply()
			kept("after the containers were removed by hand")
			if code, out := m.run("plan", "--exit-code"); code != 0 {
				t.Fatalf("not converged:\n%s", out)
			}
		})
	}
}
