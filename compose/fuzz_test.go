package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to the loader as a stack's compose file,
// in a repository that holds a symlink to the host beside it and an
// include-able file: loading never panics, never takes long, shows nothing
// of the host, and errs in a few KiB at most.
//
//	go test ./compose -run '^$' -fuzz FuzzLoad -fuzztime 5m
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		app,
		app + "    env_file: [../../host/secret.env, link/secret.env]\n    label_file: [/proc/self/environ]\n",
		"include:\n  - path: lib.yaml\n    env_file: ../../host/secret.env\n  - ../../host/secret.yaml\n" + app,
		app + "    extends: {file: link/secret.yaml, service: base}\n",
		app + "    volumes: ['./link:/l', '../../host:/h']\n    configs: [c]\nconfigs: {c: {file: ./link/secret.env}}\n",
		"x-a: &a [*a, *a]\n" + app,
		"x-v: &v '${X:-${X:-${X}}}'\n" + app + "    environment: [*v, *v, *v]\n    deploy: {replicas: 99999999}\n",
		app + "    x-deep: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n",
		app + "---\n" + app,
	} {
		f.Add([]byte(seed))
	}
	h := hostile{repo: filepath.Join(f.TempDir(), "repo"), host: filepath.Join(f.TempDir(), "host")}
	stack := "services:\n  base:\n    image: app:1\n    environment: [SECRET=" + secret + "]\n"
	for dir, files := range map[string]map[string]string{
		h.host: {"secret.env": "SECRET=" + secret + "\n", "secret.yaml": stack},
		h.repo: {"web/lib.yaml": "services:\n  lib:\n    image: lib:1\n", "web/.env": "X=1\n"},
	} {
		for p, content := range files {
			full := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				f.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				f.Fatal(err)
			}
		}
	}
	if err := os.Symlink(h.host, filepath.Join(h.repo, "web", "link")); err != nil {
		f.Fatal(err)
	}
	composeFile := filepath.Join(h.repo, "web", "compose.yaml")

	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(composeFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // a backstop: caps must stop it long before
		defer cancel()
		d, err := Load(ctx, h.repo, Options{})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		assertNoSecret(t, d.Broken["web"], d.Stacks)
		if err := d.Broken["web"]; err != nil && len(err.Error()) > 2*maxErrorBytes {
			t.Errorf("error of %d bytes", len(err.Error()))
		}
	})
}
