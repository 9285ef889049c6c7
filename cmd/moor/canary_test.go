package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/testkit"
)

// TestCanaryGatesAFleet runs a fleet of two hosts on one engine: canary
// c1 and host h1, each its own `moor run` on its own directory of one
// repository, with stacks that name c1 their canary. A commit changing
// both is applied by h1 only once c1 has applied it and is healthy (h1's
// status says what it waits for meanwhile); a commit whose rollout fails
// on c1 leaves h1 on the old revision, with the failure as the reason.
func TestCanaryGatesAFleet(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	base := testkit.StackName(t)
	cStack, hStack := base+"-c", base+"-h"
	testkit.CleanupStack(t, cStack)
	testkit.CleanupStack(t, hStack)
	bystander := testkit.Unrelated(t, hStack)
	repo := testkit.NewRepo(t)
	write := func(env map[string]string) {
		svc := rolloutService{replicas: 1, env: env}
		file := "x-moor:\n  canary:\n    hosts: [c1]\n" + svc.compose(img)
		repo.Write("c1/"+cStack+"/compose.yaml", file)
		repo.Write("h1/"+hStack+"/compose.yaml", file)
	}
	write(map[string]string{"VERSION": "1"})
	repo.Commit("v1")

	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("fleet-token-0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c1 := newMoor(t, repo.Dir, "fleet-c")
	h1 := newMoor(t, repo.Dir, "fleet-h")
	cPort := testkit.FreePort(t)
	configs := map[string]string{
		"c1.yaml": fmt.Sprintf(`state_dir: %s
listen: 127.0.0.1:%d
api: {token_file: %s}
host: {name: c1}
sources:
  - {name: fleet-c, repo: %s, path: c1, interval: 1s}
`, c1.stateDir, cPort, token, repo.Dir),
		"h1.yaml": fmt.Sprintf(`state_dir: %s
listen: "off"
host: {name: h1}
sources:
  - name: fleet-h
    repo: %s
    path: h1
    interval: 1s
    canary:
      peers: {c1: "http://127.0.0.1:%d"}
      token_file: %s
      source: fleet-c
`, h1.stateDir, repo.Dir, cPort, token),
	}
	for name, cfg := range configs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		startMoor(t, "run", "--config", filepath.Join(dir, name), "--log-format", "json")
	}
	version := func(stack string) string {
		res, err := cli.ContainerInspect(t.Context(), stack+"-web-1", client.ContainerInspectOptions{})
		if err != nil || !res.Container.State.Running {
			return ""
		}
		for _, e := range res.Container.Config.Env {
			if v, ok := strings.CutPrefix(e, "VERSION="); ok {
				return v
			}
		}
		return "?"
	}
	status := func(m *moor, source string) *controller.Status {
		st, err := controller.ReadStatus(m.stateDir, source)
		if err != nil {
			return &controller.Status{}
		}
		return st
	}
	testkit.Eventually(t, 60*time.Second, "both hosts run v1", func() bool {
		r := status(h1, "fleet-h").Result
		return version(cStack) == "1" && version(hStack) == "1" && (r == controller.ResultSuccess || r == controller.ResultNoop)
	})

	// v2, with the canary suspended: h1 holds it until c1 is healthy at it.
	if code, out := c1.run("suspend", "--state-dir", c1.stateDir, "fleet-c"); code != 0 {
		t.Fatalf("moor suspend: exit %d\n%s", code, out)
	}
	write(map[string]string{"VERSION": "2"})
	v2 := repo.Commit("v2")
	waiting := "waiting for canary c1 at " + v2[:7] + " (c1 is at " + v2[:7] + ", pending: stack " + cStack + ": service " + cStack + "/web suspended"
	testkit.Eventually(t, 60*time.Second, "h1 holds v2 for c1", func() bool {
		st := status(h1, "fleet-h")
		return st.Result == controller.ResultWaiting && strings.HasPrefix(st.Canary[hStack], waiting)
	})
	if code, out := h1.run("status"); code != 0 || !strings.Contains(out, "hold     replace "+hStack+"/web/1") ||
		!strings.Contains(out, waiting) || !strings.Contains(out, controller.StateWaiting) {
		t.Fatalf("moor status of h1 while it waits for c1: exit %d\n%s", code, out)
	}
	if v := version(hStack); v != "1" {
		t.Fatalf("h1 runs version %q while c1 has not applied v2", v)
	}
	if code, out := c1.run("resume", "--state-dir", c1.stateDir, "fleet-c"); code != 0 {
		t.Fatalf("moor resume: exit %d\n%s", code, out)
	}
	testkit.Eventually(t, 90*time.Second, "c1, then h1, run v2", func() bool { return version(hStack) == "2" })
	if v := version(cStack); v != "2" {
		t.Fatalf("h1 applied v2 while c1 runs version %q", v)
	}
	if st := status(c1, "fleet-c"); st.Applied != "main@sha1:"+v2 {
		t.Fatalf("h1 applied v2 while c1 has applied %q", st.Applied)
	}

	// v3 fails on the canary: h1 stays on v2 and says why.
	write(map[string]string{"VERSION": "3", "UNHEALTHY": "1"})
	v3 := repo.Commit("v3, unhealthy")
	failed := "waiting for canary c1 at " + v3[:7] + ": c1 failed at it (stack " + cStack + ": service " + cStack + "/web: "
	testkit.Eventually(t, 90*time.Second, "h1 holds v3 after c1's rollout failed", func() bool {
		st := status(h1, "fleet-h")
		return st.Result == controller.ResultWaiting && strings.HasPrefix(st.Canary[hStack], failed) &&
			strings.HasSuffix(st.Canary[hStack], "; held until a new commit")
	})
	if code, out := h1.run("status"); code != 0 || !strings.Contains(out, failed) {
		t.Fatalf("moor status of h1 after c1 failed: exit %d\n%s", code, out)
	}
	if vc, vh := version(cStack), version(hStack); vc != "2" || vh != "2" {
		t.Fatalf("after v3 failed on c1: c1 runs %q, h1 runs %q; want both on 2", vc, vh)
	}
	testkit.AssertAlive(t, bystander)
}
