package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
)

func buildStack(t *testing.T, files map[string]string) *reconcile.Service {
	t.Helper()
	st, _ := mustLoadWeb(t, files, Options{})
	return st.Services["api"]
}

func TestBuildMapsTheSection(t *testing.T) {
	svc := buildStack(t, map[string]string{
		"web/compose.yaml": `services:
  api:
    build:
      context: ./app
      dockerfile: docker/Dockerfile
      args: {VERSION: "1", EMPTY: ""}
      target: final
      labels: {org.example.team: web}
      network: host
      extra_hosts: ["db:10.0.0.2"]
      shm_size: 64m
      tags: ["registry.example/api:dev"]
`,
		"web/app/docker/Dockerfile": "FROM scratch\n",
		"web/app/main.txt":          "hello",
	})
	b := svc.Build
	if b == nil {
		t.Fatal("no build spec")
	}
	if svc.PullPolicy != reconcile.PullBuild {
		t.Errorf("PullPolicy = %q, want build", svc.PullPolicy)
	}
	want := reconcile.BuildSpec{
		Image: b.Image, Tags: []string{"web-api:latest", "registry.example/api:dev"}, Hash: b.Hash, Root: b.Root,
		Context: "web/app", ContextDigest: b.ContextDigest, Dockerfile: "docker/Dockerfile",
		Args: map[string]string{"VERSION": "1", "EMPTY": ""}, Target: "final", Labels: map[string]string{"org.example.team": "web"},
		Network: "host", ExtraHosts: []string{"db:10.0.0.2"}, ShmSize: 64 << 20,
	}
	if diff := cmp.Diff(want, *b); diff != "" {
		t.Errorf("build spec (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(b.Image, "web-api:moor-") || b.Image != reconcile.BuildImage("web-api", b.Hash) {
		t.Errorf("Image = %q, want web-api:moor-<hash>", b.Image)
	}
	if svc.Spec.Image != b.Image {
		t.Errorf("Spec.Image = %q, want the build's %q", svc.Spec.Image, b.Image)
	}
}

// The build hash changes with every file of the context and every setting,
// and with nothing else: not the snapshot's path, not a file .dockerignore
// leaves out, not a file outside the context.
func TestBuildHash(t *testing.T) {
	base := map[string]string{
		"web/compose.yaml":      "services:\n  api:\n    image: app:1\n    build: ./app\n",
		"web/app/Dockerfile":    "FROM scratch\nCOPY . /\n",
		"web/app/a.txt":         "a",
		"web/app/.dockerignore": "ignored\n*.log\n",
		"web/app/ignored/x":     "x",
		"web/app/b.log":         "log",
		"web/other.txt":         "other",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	h0 := buildStack(t, base)
	if h0.Build.Image != reconcile.BuildImage("app", h0.Build.Hash) || h0.Build.Tags[0] != "app:1" {
		t.Errorf("image: names the build: Image %q, Tags %v", h0.Build.Image, h0.Build.Tags)
	}
	same := map[string]map[string]string{
		"again":                base,
		"ignored file changed": with("web/app/ignored/x", "y"),
		"ignored by glob":      with("web/app/b.log", "other log"),
		"file outside context": with("web/other.txt", "changed"),
	}
	for name, files := range same {
		if got := buildStack(t, files); got.Build.Hash != h0.Build.Hash || got.Hash != h0.Hash {
			t.Errorf("%s: the build hash changed", name)
		}
	}
	differ := map[string]map[string]string{
		"file changed":       with("web/app/a.txt", "b"),
		"file added":         with("web/app/c.txt", "c"),
		"file removed":       with("web/app/a.txt", ""),
		"dockerfile changed": with("web/app/Dockerfile", "FROM scratch\nCOPY a.txt /\n"),
		"arg added":          with("web/compose.yaml", "services:\n  api:\n    image: app:1\n    build:\n      context: ./app\n      args: [X=1]\n"),
		"target set":         with("web/compose.yaml", "services:\n  api:\n    image: app:1\n    build:\n      context: ./app\n      target: t\n"),
	}
	for name, files := range differ {
		got := buildStack(t, files)
		if got.Build.Hash == h0.Build.Hash {
			t.Errorf("%s: the build hash did not change", name)
		}
		if got.Hash == h0.Hash || got.Spec.Image == h0.Spec.Image {
			t.Errorf("%s: the service's image and hash did not change", name)
		}
	}
}

func TestBuildFileMode(t *testing.T) {
	files := map[string]string{
		"web/compose.yaml": "services:\n  api:\n    build: .\n",
		"web/Dockerfile":   "FROM scratch\n",
		"web/run.sh":       "#!/bin/sh\n",
	}
	h0 := buildStack(t, files)
	root := t.TempDir()
	writeTree(t, root, files)
	if err := os.Chmod(filepath.Join(root, "web/run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	dirs, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	st, err := LoadStack(t.Context(), dirs[0], Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Services["api"].Build.Hash == h0.Build.Hash {
		t.Error("a mode change did not change the build hash")
	}
}

func TestBuildInlineAndOutsideDockerfile(t *testing.T) {
	inline := buildStack(t, map[string]string{
		"web/compose.yaml": "services:\n  api:\n    build:\n      context: ./app\n      dockerfile_inline: |\n        FROM scratch\n        COPY a /\n",
		"web/app/a":        "a",
	})
	if inline.Build.Dockerfile != inlineDockerfile || inline.Build.DockerfileInline != "FROM scratch\nCOPY a /\n" {
		t.Errorf("inline: Dockerfile %q, inline %q", inline.Build.Dockerfile, inline.Build.DockerfileInline)
	}
	outside := buildStack(t, map[string]string{
		"web/compose.yaml":      "services:\n  api:\n    build:\n      context: ./app\n      dockerfile: ../docker/Dockerfile\n",
		"web/app/a":             "a",
		"web/docker/Dockerfile": "FROM scratch\nCOPY a /\n",
	})
	if outside.Build.DockerfileInline != "FROM scratch\nCOPY a /\n" || outside.Build.Dockerfile != inlineDockerfile {
		t.Errorf("outside: Dockerfile %q, inline %q", outside.Build.Dockerfile, outside.Build.DockerfileInline)
	}
	if outside.Build.Hash != inline.Build.Hash {
		// Same files, same Dockerfile: the same build, wherever it was written.
		t.Errorf("the same build hashed differently: %s vs %s", outside.Build.Hash, inline.Build.Hash)
	}
}

func TestBuildPullPolicies(t *testing.T) {
	for _, p := range []string{"missing", "if_not_present", "build", "never"} {
		svc := buildStack(t, map[string]string{
			"web/compose.yaml": "services:\n  api:\n    build: .\n    pull_policy: " + p + "\n",
			"web/Dockerfile":   "FROM scratch\n",
		})
		if svc.PullPolicy != reconcile.PullBuild {
			t.Errorf("pull_policy %s: PullPolicy = %q, want build", p, svc.PullPolicy)
		}
	}
}

// A symlink in the context that points out of the repository is sent as a
// link, never followed: the build reads nothing outside.
func TestBuildContextSymlinkNotFollowed(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"web/compose.yaml": "services:\n  api:\n    build: .\n",
		"web/Dockerfile":   "FROM scratch\n",
	})
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "web/link")); err != nil {
		t.Fatal(err)
	}
	load := func() string {
		dirs, err := Discover(root)
		if err != nil {
			t.Fatal(err)
		}
		st, err := LoadStack(t.Context(), dirs[0], Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st.Services["api"].Build.Hash
	}
	h1 := load()
	if err := os.WriteFile(secret, []byte("s2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if load() != h1 {
		t.Error("the hash followed a symlink out of the repository")
	}
}

// A context that leaves the repository through a symlink is refused before
// anything in it is read.
func TestBuildContextSymlinkOutsideRefused(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"web/compose.yaml": "services:\n  api:\n    build: ./app\n"})
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "web/app")); err != nil {
		t.Fatal(err)
	}
	dirs, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadStack(t.Context(), dirs[0], Options{})
	if err == nil || !strings.Contains(err.Error(), "build.context web/app is outside the repository") {
		t.Fatalf("LoadStack = %v, want the context refused as outside the repository", err)
	}
}
