package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/internal/testkit"
)

// exampleRepos are the deploy repositories under examples/: every directory
// whose subdirectories hold compose files.
func exampleRepos(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	var repos []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join("../../examples", e.Name())
		if m, _ := filepath.Glob(filepath.Join(dir, "*", "compose.yaml")); len(m) > 0 {
			repos = append(repos, dir)
		}
	}
	if len(repos) < 2 {
		t.Fatalf("found only %v under examples/", repos)
	}
	return repos
}

// TestExamplesValidate: `moor validate` accepts every example repository.
func TestExamplesValidate(t *testing.T) {
	for _, dir := range exampleRepos(t) {
		m := &moor{t: t}
		if code, out := m.run("validate", dir); code != 0 || strings.Contains(out, "error") {
			t.Errorf("moor validate %s: exit %d\n%s", dir, code, out)
		}
	}
}

// TestExamplesPlan: `moor plan --dir` plans every example against the real
// engine without touching it.
func TestExamplesPlan(t *testing.T) {
	testkit.Docker(t)
	for _, dir := range exampleRepos(t) {
		m := newMoor(t, dir, "example-"+filepath.Base(dir))
		code, out := m.run("plan", "--dir", dir)
		if code != 0 || !strings.Contains(out, "create ") {
			t.Errorf("moor plan --dir %s: exit %d\n%s", dir, code, out)
		}
	}
}

// TestExampleConfig: the example controller configuration loads.
func TestExampleConfig(t *testing.T) {
	cfg, err := config.Load("../../examples/moor.yaml", config.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 3 {
		t.Fatalf("sources: %+v", cfg.Sources)
	}
}

// TestValidateNamesTheFault: a broken repository fails validation with the
// file and field named.
func TestValidateNamesTheFault(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	os.WriteFile(filepath.Join(dir, "web", "compose.yaml"), []byte("services:\n  api:\n    image: x:1\n    ipc: host\n"), 0o644)
	m := &moor{t: t}
	code, out := m.run("validate", dir)
	if code == 0 || !strings.Contains(out, "compose.yaml") || !strings.Contains(out, `"ipc"`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
