package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
)

// TestSuspendHoldsARunningMoor: `moor suspend` on the state dir of a
// running `moor run` holds the next commit — the engine keeps every
// container, and status says suspended — and `moor resume` deploys it,
// without a restart.
func TestSuspendHoldsARunningMoor(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	port := testkit.FreePort(t)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "1", "1"))
	repo.Commit("v1")
	m := newMoor(t, repo.Dir, stack)
	startMoor(t, "run", "--repo", repo.Dir, "--name", stack, "--state-dir", m.stateDir,
		"--interval", "1s", "--listen", "off", "--log-format", "json")
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if body := get(t, url); !strings.Contains(body, "version=1") {
		t.Fatalf("after start: %q", body)
	}
	testkit.Eventually(t, 30*time.Second, "v1 converged", func() bool {
		st, err := controller.ReadStatus(m.stateDir, stack)
		return err == nil && st.Result == controller.ResultSuccess || err == nil && st.Result == controller.ResultNoop
	})
	ids := containers(t, cli, stack)

	if code, out := m.run("suspend", "--state-dir", m.stateDir, stack); code != 0 ||
		!strings.Contains(out, "the whole source suspended (by moor suspend at ") {
		t.Fatalf("moor suspend: exit %d\n%s", code, out)
	}
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "2", "2"))
	v2 := "main@sha1:" + repo.Commit("v2")
	testkit.Eventually(t, 30*time.Second, "moor run sees v2 and holds it", func() bool {
		st, err := controller.ReadStatus(m.stateDir, stack)
		return err == nil && st.Revision == v2 && st.Result == controller.ResultWaiting
	})
	if got := containers(t, cli, stack); !equalMaps(got, ids) {
		t.Fatalf("a suspended source changed containers: %v -> %v", ids, got)
	}
	if body := get(t, url); !strings.Contains(body, "version=1") {
		t.Fatalf("a suspended source deployed v2: %q", body)
	}
	code, out := m.run("status")
	if code != 0 || !strings.Contains(out, "suspended the whole source (by moor suspend at ") ||
		!strings.Contains(out, "hold     replace "+stack+"/web/1") || !strings.Contains(out, controller.StateSuspended) {
		t.Fatalf("moor status of a suspended source: exit %d\n%s", code, out)
	}

	if code, out := m.run("resume", "--state-dir", m.stateDir, stack); code != 0 || !strings.Contains(out, "resumed") {
		t.Fatalf("moor resume: exit %d\n%s", code, out)
	}
	testkit.Eventually(t, 60*time.Second, "v2 deployed after resume", func() bool {
		_, body, err := testkit.HTTPGet(url)
		return err == nil && strings.Contains(body, "version=2")
	})
	if got := containers(t, cli, stack); got[stack+"-web-1"] == ids[stack+"-web-1"] {
		t.Errorf("web was not replaced after resume: %v", got)
	}
	testkit.AssertAlive(t, bystander)
}

// TestApplyIgnoresWindowsOnlyWhenTold: inside a deny window, `moor plan`
// and `moor apply` hold the deploy and say why; `moor apply
// --ignore-windows` deploys it, and the ledger records that it did.
func TestApplyIgnoresWindowsOnlyWhenTold(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	port := testkit.FreePort(t)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "1", "1"))
	repo.Commit("v1")
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "moor.yaml")
	// A deny window that opens every minute for an hour never closes.
	os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir: %s
sources:
  - name: %s
    repo: %s
    windows:
      - kind: deny
        schedule: "* * * * *"
        duration: 1h
`, state, stack, repo.Dir)), 0o600)
	m := &moor{t: t, stateDir: state, source: stack}

	code, out := m.run("plan", "--config", cfg)
	if code != 0 || !strings.Contains(out, "hold create "+stack+"/web/1 (missing): waiting for window (") {
		t.Fatalf("moor plan in a deny window: exit %d\n%s", code, out)
	}
	code, out = m.run("plan", "--config", cfg, "--json")
	if code != 0 || !strings.Contains(out, `"waiting": [`) || !strings.Contains(out, `"`+stack+`": "waiting for window (`) {
		t.Fatalf("moor plan --json in a deny window: exit %d\n%s", code, out)
	}
	code, out = m.run("apply", "--config", cfg)
	if code == 0 || !strings.Contains(out, "waiting for window (") || !strings.Contains(out, "--ignore-windows") {
		t.Fatalf("moor apply in a deny window: exit %d\n%s", code, out)
	}
	if got := containers(t, cli, stack); len(got) != 0 {
		t.Fatalf("moor apply in a deny window created %v", got)
	}

	// Suspended too: apply says so, and going past the window is not enough.
	if code, out = m.run("suspend", "--config", cfg, stack); code != 0 {
		t.Fatalf("moor suspend --config: exit %d\n%s", code, out)
	}
	code, out = m.run("apply", "--config", cfg, "--ignore-windows")
	if code == 0 || !strings.Contains(out, "the whole source is suspended (by moor suspend at ") || !strings.Contains(out, "--ignore-suspend") {
		t.Fatalf("moor apply --ignore-windows of a suspended source: exit %d\n%s", code, out)
	}
	if got := containers(t, cli, stack); len(got) != 0 {
		t.Fatalf("moor apply of a suspended source created %v", got)
	}
	if code, out = m.run("resume", "--config", cfg, stack); code != 0 {
		t.Fatalf("moor resume --config: exit %d\n%s", code, out)
	}

	if code, out = m.run("apply", "--config", cfg, "--ignore-windows"); code != 0 {
		t.Fatalf("moor apply --ignore-windows: exit %d\n%s", code, out)
	}
	if body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !strings.Contains(body, "version=1") {
		t.Fatalf("web answers %q", body)
	}
	recs, _, err := ledger.Read(filepath.Join(state, "ledger.jsonl"))
	if err != nil || len(recs) == 0 {
		t.Fatalf("ledger: %d records, %v", len(recs), err)
	}
	last := recs[len(recs)-1]
	if last.Result != controller.ResultSuccess || len(last.Overrides) != 1 || last.Overrides[0] != controller.OverrideWindows {
		t.Fatalf("the ledger's last record: %s, overrides %q; want a success that ignored the windows", last.Result, last.Overrides)
	}
	if code, out = m.run("history"); code != 0 || !strings.Contains(out, "(ignored windows)") {
		t.Errorf("moor history: exit %d\n%s", code, out)
	}
	testkit.AssertAlive(t, bystander)
}
