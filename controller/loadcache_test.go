package controller_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
)

// tamper rewrites a file of the stored snapshot of rev, which moor never
// changes: a run that shows the new content loaded the revision again, one
// that does not took its stacks from the load cache.
func (h *harness) tamper(rev, path, content string) {
	h.t.Helper()
	dir := filepath.Join(h.state, "sources", source, "snapshots", commitOf(rev))
	p := filepath.Join(dir, filepath.FromSlash(path))
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			h.t.Fatal(err)
		}
		if d == dir {
			break
		}
	}
	if err := os.Chmod(p, 0o644); err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// planImage plans with a new controller, as a new moor process would, and
// returns the image the stack web's service app wants.
func (h *harness) planImage(ctl *controller.Controller) string {
	h.t.Helper()
	out, err := ctl.Plan(h.t.Context())
	if err != nil {
		h.t.Fatalf("plan: %v", err)
	}
	svc := out.Desired.Service("web/app")
	if svc == nil {
		h.t.Fatalf("no web/app in %v", out.Desired.Stacks)
	}
	return svc.Spec.Image
}

// desiredFile is desired.json as the test reads it.
func (h *harness) desiredFile() (raw []byte, key string) {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.state, "sources", source, "desired.json"))
	if err != nil {
		h.t.Fatal(err)
	}
	var f struct {
		Load *struct{ Key string } `json:"load"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		h.t.Fatal(err)
	}
	if f.Load == nil {
		return b, ""
	}
	return b, f.Load.Key
}

// TestLoadCache: a new controller (a new moor process) takes the stacks of
// a revision it loaded before from desired.json, without parsing the
// compose files again, and only for the same revision, settings and build:
// each one changed loads the revision again. A damaged or foreign cache is
// loaded past.
func TestLoadCache(t *testing.T) {
	h := newHarness(t, map[string]string{
		"web/compose.yaml":       stack("app=app:1"),
		"other/web/compose.yaml": stack("app=app:1"),
	})
	h.mustApply()
	h.tamper(h.rev, "web/compose.yaml", stack("app=app:2"))
	h.tamper(h.rev, "other/web/compose.yaml", stack("app=app:2"))
	if img := h.planImage(h.newController()); img != "app:1" {
		t.Fatalf("a new controller loaded the revision again (%s): nothing was cached", img)
	}
	// A no-op run of a cached revision leaves desired.json as it is.
	fi, err := os.Stat(filepath.Join(h.state, "sources", source, "desired.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.newController().Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	fi2, err := os.Stat(filepath.Join(h.state, "sources", source, "desired.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Sys().(*syscall.Stat_t).Ino != fi2.Sys().(*syscall.Stat_t).Ino {
		t.Error("a cached no-op run wrote desired.json again")
	}

	tests := []struct {
		name   string
		change func(*config.Source)
		build  string
		home   string
	}{
		{name: "variables", change: func(s *config.Source) { s.Variables = map[string]string{"X": "1"} }},
		{name: "profiles", change: func(s *config.Source) { s.Profiles = []string{"debug"} }},
		{name: "max replicas", change: func(s *config.Source) { s.MaxReplicas = 7 }},
		{name: "stacks dir", change: func(s *config.Source) { s.StacksDir = t.TempDir() }},
		{name: "path", change: func(s *config.Source) { s.Path = "other" }},
		{name: "another build", build: "another build"},
		{name: "HOME", home: t.TempDir()},
	}
	home := os.Getenv("HOME")
	for _, tt := range tests {
		// The record is of the settings as they are, with app:1; the
		// revision's files now say app:2.
		if err := os.Remove(filepath.Join(h.state, "sources", source, "desired.json")); err != nil {
			t.Fatal(err)
		}
		h.tamper(h.rev, "web/compose.yaml", stack("app=app:1"))
		h.tamper(h.rev, "other/web/compose.yaml", stack("app=app:1"))
		h.planImage(h.newController())
		h.tamper(h.rev, "web/compose.yaml", stack("app=app:2"))
		h.tamper(h.rev, "other/web/compose.yaml", stack("app=app:2"))
		if img := h.planImage(h.newController()); img != "app:1" {
			t.Fatalf("before %s changed: the revision was loaded again (%s)", tt.name, img)
		}

		src := h.src
		if tt.change != nil {
			tt.change(&h.src)
		}
		if tt.home != "" {
			t.Setenv("HOME", tt.home)
		}
		ctl := h.newController()
		if tt.build != "" {
			controller.SetBuild(ctl, tt.build)
		}
		if img := h.planImage(ctl); img != "app:2" {
			t.Errorf("%s changed: the cached stacks were taken (%s)", tt.name, img)
		}
		h.src = src
		t.Setenv("HOME", home)
	}

	// Another revision is loaded, never taken from the last one's cache.
	rev2 := h.commit("two", map[string]string{"web/compose.yaml": stack("app=db:1")})
	if img := h.planImage(h.newController()); img != "db:1" {
		t.Errorf("revision %s planned with %s", short(rev2), img)
	}

	// Damaged or foreign: loaded again, and recorded anew with a key.
	for i, name := range []string{"not json", "other key", "other version"} {
		b, key := h.desiredFile()
		if key == "" {
			t.Fatalf("%s: desired.json holds no key", name)
		}
		img := fmt.Sprintf("img:%d", i)
		h.tamper(rev2, "web/compose.yaml", stack("app="+img))
		switch name {
		case "not json":
			h.damage("desired.json", `{"version": 1, "load": {"key": "`+key+`"}, "stacks": {`)
		case "other key":
			h.damage("desired.json", strings.Replace(string(b), key, strings.Repeat("0", len(key)), 1))
		case "other version":
			h.damage("desired.json", strings.Replace(string(b), `"version":1`, `"version":9`, 1))
		}
		if got := h.planImage(h.newController()); got != img {
			t.Errorf("%s: the cache was taken (%s)", name, got)
		}
	}
}

// TestLoadCacheRefuses: a revision whose load depends on more than its key
// covers, or that cannot be written down exactly, is not cached: a symlink
// that may lead out of the snapshot, a broken stack, inline content.
func TestLoadCacheRefuses(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"symlink out": {"web/compose.yaml": stack("app=app:1")},
		"broken stack": {"web/compose.yaml": stack("app=app:1"),
			"bad/compose.yaml": stack("app=app:1") + "    use_api_socket: true\n"},
		"inline content": {"web/compose.yaml": stack("app=app:1") + "    configs: [c]\nconfigs:\n  c: {content: secret}\n"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, files)
			if name == "symlink out" {
				if err := os.Symlink("../../elsewhere", filepath.Join(h.repo.Dir, "web", "link")); err != nil {
					t.Fatal(err)
				}
				h.rev = h.commit("symlink", nil)
			}
			if img := h.planImage(h.ctl); img != "app:1" {
				t.Fatalf("planned %s", img)
			}
			if _, key := h.desiredFile(); key != "" {
				t.Errorf("desired.json holds a load key")
			}
			h.tamper(h.rev, "web/compose.yaml", strings.Replace(files["web/compose.yaml"], "app:1", "app:2", 1))
			if img := h.planImage(h.newController()); img != "app:2" {
				t.Errorf("a new controller took the stacks from the cache (%s)", img)
			}
		})
	}
}
