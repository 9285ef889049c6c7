package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun measures a small corpus with a stand-in for docker compose that
// refuses the files holding "refuse-me".
func TestRun(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"ok/compose.yaml":           "services:\n  a:\n    image: x:1\n",
		"two/compose.yaml":          "services:\n  a:\n    image: x:1\n",
		"two/docker-compose.yml":    "services:\n  b:\n    image: x:1\n",
		"build/compose.yaml":        "services:\n  a:\n    image: a:1\n    use_api_socket: true\n",
		"nested/x/compose.yml":      "services:\n  a:\n    image: x:1\n    provider: {type: x}\n",
		"refused/compose.yaml":      "# refuse-me\nservices:\n  a:\n    image: x:1\n",
		".hidden/compose.yaml":      "services:\n  a:\n    build: .\n",
		"notes/docker-compose.json": "{}",
	}
	for p, content := range files {
		full := filepath.Join(dir, "corpus", p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fake := filepath.Join(dir, "docker-compose")
	script := "#!/bin/sh\nif [ \"$1\" = version ]; then echo 9.9.9; exit 0; fi\nif grep -q refuse-me \"$2\"; then echo 'no good' >&2; exit 1; fi\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-compose", fake, filepath.Join(dir, "corpus")}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"with docker compose 9.9.9",
		"| corpus | 5 | 4 | 1 | 25.0% |",
		"| stack directory PATH holds both compose.yaml and docker-compose.yml: keep one | 1 | 1 | corpus/two/compose.yaml |",
		`| field "use_api_socket" is not supported by moor | 1 | 1 | corpus/build/compose.yaml |`,
		`| field "provider" is not supported by moor | 1 | 1 | corpus/nested/x/compose.yml |`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunHash: with -hash, a service whose config hash docker compose
// computes differently from moor is counted and named.
func TestRunHash(t *testing.T) {
	dir := t.TempDir()
	for p, content := range map[string]string{
		"corpus/ok/compose.yaml":      "services:\n  a:\n    image: x:1\n  b:\n    image: x:1\n",
		"corpus/refused/compose.yaml": "# refuse-me\nservices:\n  a:\n    image: x:1\n",
	} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The stand-in hashes every service as 0000: no hash of moor's is that.
	fake := filepath.Join(dir, "docker-compose")
	script := "#!/bin/sh\nif [ \"$1\" = version ]; then echo 9.9.9; exit 0; fi\n" +
		"case \"$*\" in *--hash*) echo 'a 0000'; echo 'b 0000'; exit 0;; esac\n" +
		"if grep -q refuse-me \"$2\"; then echo 'no good' >&2; exit 1; fi\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-compose", fake, "-hash", "-v", filepath.Join(dir, "corpus")}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"moor's equals docker compose config --hash for 0 of 2 services (0.0%)",
		"config hash differs: " + filepath.Join(dir, "corpus") + "/ok/compose.yaml: a, b",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
