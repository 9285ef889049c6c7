package compose

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLimitsAreSettable: each limit is the one set: set at or above what a
// stack needs it loads the stack, set below it refuses it.
func TestLimitsAreSettable(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		limits   Limits
		want     string // the error with tighter
		tighter  Limits
		services []string
	}{
		{
			name:    "replicas",
			files:   map[string]string{"web/compose.yaml": app + "    deploy:\n      replicas: 5\n"},
			limits:  Limits{Replicas: 5},
			tighter: Limits{Replicas: 4},
			want:    "service app: deploy.replicas 5 is more than the limit of 4 (max_replicas)",
		},
		{
			name:    "bytes hashed",
			files:   map[string]string{"web/compose.yaml": app + "    volumes: ['./conf:/conf']\n", "web/conf/a": "aaaa", "web/conf/b": "bbbb"},
			limits:  Limits{HashBytes: 8},
			tighter: Limits{HashBytes: 7},
			want:    "service app: volumes[0] \"./conf:/conf\": bind source web/conf: binds, configs and secrets of a stack may hold 7 bytes together",
		},
		{
			name:    "entries hashed",
			files:   map[string]string{"web/compose.yaml": app + "    volumes: ['./conf:/conf']\n", "web/conf/a": "a", "web/conf/b": "b"},
			limits:  Limits{HashEntries: 3}, // conf, a, b
			tighter: Limits{HashEntries: 2},
			want:    "may hold 2 files, directories and symlinks together",
		},
		{
			name:    "env bytes",
			files:   map[string]string{"web/compose.yaml": app + "    env_file: [a.env]\n", "web/a.env": "A=1\n"},
			limits:  Limits{EnvBytes: 4},
			tighter: Limits{EnvBytes: 3},
			want:    `env_file "web/a.env": too large: the .env, env_file and label_file files of a stack may hold 3 bytes together`,
		},
		{
			name:    "text",
			files:   map[string]string{"web/compose.yaml": app + "    environment: ['A=${BIG}']\n", "web/.env": "BIG=" + strings.Repeat("x", 10<<10) + "\n"},
			limits:  Limits{TextBytes: 16 << 10},
			tighter: Limits{TextBytes: 8 << 10},
			want:    "variables expand to more than 8 KiB",
		},
		{
			name:    "depth",
			files:   map[string]string{"web/compose.yaml": "services: {app: {image: 'app:1'}}\n"},
			limits:  Limits{Depth: 3},
			tighter: Limits{Depth: 2},
			want:    `compose file "web/compose.yaml": nested deeper than 2 levels`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := loadWeb(t, tt.files, Options{Limits: tt.limits}); err != nil {
				t.Errorf("at the limit: %v", err)
			}
			_, _, err := loadWeb(t, tt.files, Options{Limits: tt.tighter})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("over the limit: err = %v\nwant one containing %q", err, tt.want)
			}
			if !errors.Is(err, ErrLimit) {
				t.Errorf("over the limit: err = %v, want an ErrLimit", err)
			}
		})
	}
}

// TestExtendsChains: a chain of extends is followed when compose-go and
// moor agree on where its files are, and refused when they would not.
func TestExtendsChains(t *testing.T) {
	base := "services:\n  base:\n    extends:\n      file: root.yaml\n      service: root\n    environment: [B=1]\n"
	root := "services:\n  root:\n    image: root:1\n    environment: [R=1]\n"
	extending := func(file string) string {
		return app + "    extends:\n      file: " + file + "\n      service: base\n"
	}
	t.Run("in the stack directory", func(t *testing.T) {
		st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": extending("base.yaml"), "web/base.yaml": base, "web/root.yaml": root}, Options{})
		if diff := cmp.Diff([]string{"B=1", "R=1"}, st.Services["app"].Spec.Env); diff != "" {
			t.Errorf("Env (-want +got):\n%s", diff)
		}
	})
	t.Run("a base elsewhere without a chain", func(t *testing.T) {
		st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": extending("lib/base.yaml"), "web/lib/base.yaml": "services:\n  base:\n    image: base:1\n    environment: [B=1]\n"}, Options{})
		if diff := cmp.Diff([]string{"B=1"}, st.Services["app"].Spec.Env); diff != "" {
			t.Errorf("Env (-want +got):\n%s", diff)
		}
	})
	t.Run("a base elsewhere that extends a file", func(t *testing.T) {
		_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": extending("lib/base.yaml"), "web/lib/base.yaml": base, "web/lib/root.yaml": root}, Options{})
		if err == nil || !strings.Contains(err.Error(), `extends.file "lib/base.yaml": a service there extends from a file itself`) || !errors.Is(err, ErrUnsupported) {
			t.Errorf("err = %v, want the chain refused", err)
		}
	})
}

func TestLoadRefusesOddCompose(t *testing.T) {
	tests := []struct {
		name, compose, want string
	}{
		{"two documents", app + "---\n" + app, `compose file "web/compose.yaml": holds more than one YAML document`},
		{"include without a path", "include:\n  - env_file: a.env\n" + app, "include: an entry without a path"},
		{"an alias inside itself", "x-a: &a [*a]\n" + app, "an alias refers to the collection that holds it"},
		{"extends a file named by a number", app + "    extends: {file: 0, service: app}\n", "compose-go failed on this input: interface conversion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": tt.compose}, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestSourcePathOutside: a source path that is a symlink out of the
// repository is refused as a whole.
func TestSourcePathOutside(t *testing.T) {
	h := newHostile(t)
	h.write(t, nil, map[string]string{"stacks": "{{HOST}}"})
	_, err := Load(t.Context(), filepath.Join(h.repo, "stacks"), Options{Repo: h.repo})
	if err == nil || !strings.Contains(err.Error(), "outside the repository") {
		t.Errorf("err = %v, want the source path refused", err)
	}
	assertNoSecret(t, err, nil)
}

// TestSymlinksInside: a stack directory, a compose file and a source path
// that are symlinks inside the repository load.
func TestSymlinksInside(t *testing.T) {
	h := newHostile(t)
	h.write(t, map[string]string{"real/web/compose.yaml": app, "real/api/compose.yml": app},
		map[string]string{"stacks/web": "../real/web", "stacks/api": "../real/api", "linked": "stacks"})
	d, err := Load(t.Context(), filepath.Join(h.repo, "linked"), Options{Repo: h.repo})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Broken) > 0 {
		t.Fatalf("Broken = %v", d.Broken)
	}
	if diff := cmp.Diff([]string{"api", "web"}, d.StackNames()); diff != "" {
		t.Errorf("stacks (-want +got):\n%s", diff)
	}
}

// TestSharedFilesOfTheRepository: with a source path, files elsewhere in
// the repository may be used, and a bind of them carries Content.
func TestSharedFilesOfTheRepository(t *testing.T) {
	h := newHostile(t)
	h.write(t, map[string]string{
		"shared/common.env":          "C=1\n",
		"shared/conf/a":              "a",
		"hosts/one/web/compose.yaml": app + "    env_file: [../../../shared/common.env]\n    volumes: ['../../../shared/conf:/conf:ro']\n",
	}, nil)
	d, err := Load(t.Context(), filepath.Join(h.repo, "hosts", "one"), Options{Repo: h.repo})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Broken["web"]; err != nil {
		t.Fatal(err)
	}
	spec := d.Stacks["web"].Services["app"].Spec
	if diff := cmp.Diff([]string{"C=1"}, spec.Env); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
	if c := spec.Mounts[0].Content; c != digest(t, filepath.Join(h.repo, "shared", "conf")) {
		t.Errorf("bind of a shared directory has Content %q", c)
	}
	// the same stack with the host path as its repository: refused
	d, err = Load(t.Context(), filepath.Join(h.repo, "hosts", "one"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Broken["web"]; err == nil || !strings.Contains(err.Error(), "outside the repository") {
		t.Errorf("with the source path as the repository: Broken[web] = %v", err)
	}
}

// TestBindOutsideIsNeverRead: a bind through a symlink that leaves the
// repository is a host bind, even to a file that cannot be read.
func TestBindOutsideIsNeverRead(t *testing.T) {
	h := newHostile(t)
	unreadable := filepath.Join(h.host, "unreadable")
	if err := os.WriteFile(unreadable, []byte(secret), 0); err != nil {
		t.Fatal(err)
	}
	h.write(t, map[string]string{"web/compose.yaml": app + "    volumes: ['./root:/root', './zero:/zero', './unreadable:/u']\n"},
		map[string]string{"web/root": "/", "web/zero": "/dev/zero", "web/unreadable": unreadable})
	d, err := Load(t.Context(), h.repo, Options{Limits: Limits{HashBytes: 1, HashEntries: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Broken["web"]; err != nil {
		t.Fatal(err)
	}
	for _, m := range d.Stacks["web"].Services["app"].Spec.Mounts {
		if m.Content != "" {
			t.Errorf("host bind %s has Content %q", m.Target, m.Content)
		}
	}
}

// TestIncludeWithOverrides: an include of several files (the first, then
// its overrides) reads them all through the same checks, in the first
// file's project.
func TestIncludeWithOverrides(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{
		"web/compose.yaml":         "include:\n  - path: [lib/db.yaml, lib/db.override.yaml]\n" + app,
		"web/lib/db.yaml":          "services:\n  db:\n    image: db:${TAG}\n    env_file: [db.env]\n",
		"web/lib/db.override.yaml": "services:\n  db:\n    environment: [MODE=override]\n",
		"web/lib/db.env":           "FROM_FILE=1\n",
		"web/lib/.env":             "TAG=16\n",
	}, Options{})
	db := st.Services["db"].Spec
	if db.Image != "db:16" {
		t.Errorf("Image = %q, want db:16 (from the included project's .env)", db.Image)
	}
	if diff := cmp.Diff([]string{"FROM_FILE=1", "MODE=override"}, db.Env); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
	_, _, err := loadWeb(t, map[string]string{
		"web/compose.yaml": "include:\n  - path: [lib/db.yaml, ../../outside.yaml]\n" + app,
		"web/lib/db.yaml":  "services:\n  db:\n    image: db:1\n",
	}, Options{})
	if err == nil || !strings.Contains(err.Error(), `include "../../outside.yaml": outside the repository`) {
		t.Errorf("an override outside: err = %v", err)
	}
}
