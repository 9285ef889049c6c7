package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

func dataCompose(img string, port int, version string) string {
	return fmt.Sprintf(`services:
  web:
    image: %[1]s
    environment:
      VERSION: "%[3]s"
    ports: ["127.0.0.1:%[2]d:8080"]
    volumes:
      - ./data:/data
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
    restart: unless-stopped
`, img, port, version)
}

// moorConfig writes a configuration with one source and returns its path.
func moorConfig(t *testing.T, state, name, repo, stacksDir string, adopt bool) string {
	t.Helper()
	cfg := fmt.Sprintf("state_dir: %s\nlisten: \"off\"\nsources:\n  - name: %s\n    repo: %s\n    stacks_dir: %s\n    adopt: %v\n",
		state, name, repo, stacksDir, adopt)
	path := filepath.Join(t.TempDir(), "moor.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runMoor(t *testing.T, args ...string) (int, string) {
	t.Helper()
	if args[0] == "plan" || args[0] == "apply" {
		args = append(args, "--log-level", "warn")
	}
	var out bytes.Buffer
	code := run(t.Context(), args, &out, &out)
	t.Logf("moor %s -> %d\n%s", strings.Join(args, " "), code, out.String())
	return code, out.String()
}

// TestAdoptComposeProject: a project started with docker compose up -d in
// /opt/stacks/app is taken over by a source with adopt: true and that
// stacks_dir: its containers are not recreated, its data stays where it is;
// a commit that changes it replaces them by moor's rollout, the data kept.
// Without adopt the project is a conflict, and untouched.
func TestAdoptComposeProject(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	port := testkit.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)

	// What the user ran until now: /opt/stacks/STACK with docker compose.
	stacks := t.TempDir()
	dir := filepath.Join(stacks, stack)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(dataCompose(img, port, "1")), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.Compose(t, dir, "up", "-d", "--wait")
	putFile(t, url, "/data/kept", "years of data")
	before := containers(t, cli, stack)

	// The same stack, now in git.
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", dataCompose(img, port, "1"))
	repo.Commit("the stack as it runs")
	state := t.TempDir()

	// Without adopt: reported, never touched.
	cfg := moorConfig(t, state, "prod", repo.Dir, stacks, false)
	if code, out := runMoor(t, "apply", "--config", cfg); code == 0 || !strings.Contains(out, "conflict "+stack) || !strings.Contains(out, "adopt: true") {
		t.Fatalf("apply without adopt: exit %d", code)
	}
	if got := containers(t, cli, stack); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a project moor does not own was changed: %v, was %v", got, before)
	}

	cfg = moorConfig(t, state, "prod", repo.Dir, stacks, true)
	if code, out := runMoor(t, "plan", "--config", cfg); code != 0 || !strings.Contains(out, "adopt "+stack+"/web/1 (compose project, config matches)") {
		t.Fatalf("plan with adopt: exit %d", code)
	}
	if code, _ := runMoor(t, "apply", "--config", cfg); code != 0 {
		t.Fatal("apply with adopt failed")
	}
	if got := containers(t, cli, stack); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("adoption recreated containers: %v, was %v", got, before)
	}
	if code, out := runMoor(t, "plan", "--config", cfg, "--exit-code"); code != 0 {
		t.Fatalf("plan after adoption: exit %d\n%s", code, out)
	}
	_, status := runMoor(t, "status", "--state-dir", state)
	if !strings.Contains(status, stack+"/web") || !strings.Contains(status, "in-sync") {
		t.Errorf("status after adoption does not show the service in sync:\n%s", status)
	}
	_, history := runMoor(t, "history", "--state-dir", state)
	if !strings.Contains(history, "adopt "+stack+"/web/1") {
		t.Errorf("the ledger does not record the adoption:\n%s", history)
	}

	// A change is rolled out by moor, and the data is where it was.
	repo.Write(stack+"/compose.yaml", dataCompose(img, port, "2"))
	repo.Commit("v2")
	if code, _ := runMoor(t, "apply", "--config", cfg); code != 0 {
		t.Fatal("apply of v2 failed")
	}
	after := containers(t, cli, stack)
	if after[stack+"-web-1"] == before[stack+"-web-1"] {
		t.Fatal("v2 did not replace the adopted container")
	}
	if body := get(t, url+"/"); !strings.Contains(body, "version=2") {
		t.Errorf("web answers %q", body)
	}
	if body := get(t, url+"/file?path=/data/kept"); body != "years of data" {
		t.Errorf("the data of the adopted project: %q", body)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data", "kept")); err != nil || string(b) != "years of data" {
		t.Errorf("the data is not in the project's directory: %q %v", b, err)
	}
}
