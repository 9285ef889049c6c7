package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInterpolation(t *testing.T) {
	// Set in moor's own environment: a stack must never see these.
	t.Setenv("TAG", "from-process")
	t.Setenv("LEAK", "from-process")

	compose := `
services:
  app:
    image: app:${TAG}
    environment:
      - LEAK
      - PLAIN=${LEAK:-not-leaked}
      - FROM_DOTENV
      - REF=${REF}
`
	tests := []struct {
		name      string
		dotEnv    string
		vars      map[string]string
		wantImage string
		wantEnv   []string
	}{
		{
			name:      "dotenv only",
			dotEnv:    "TAG=1.2\nFROM_DOTENV=yes\nREF=x-${TAG}\n",
			wantImage: "app:1.2",
			wantEnv:   []string{"FROM_DOTENV=yes", "PLAIN=not-leaked", "REF=x-1.2"},
		},
		{
			name:      "variables override dotenv",
			dotEnv:    "TAG=1.2\nFROM_DOTENV=yes\n",
			vars:      map[string]string{"TAG": "2.0", "REF": "op"},
			wantImage: "app:2.0",
			wantEnv:   []string{"FROM_DOTENV=yes", "PLAIN=not-leaked", "REF=op"},
		},
		{
			name:      "no dotenv",
			vars:      map[string]string{"TAG": "3"},
			wantImage: "app:3",
			wantEnv:   []string{"PLAIN=not-leaked", "REF="},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"web/compose.yaml": compose}
			if tt.dotEnv != "" {
				files["web/.env"] = tt.dotEnv
			}
			st, _ := mustLoadWeb(t, files, Options{Variables: tt.vars})
			spec := st.Services["app"].Spec
			if spec.Image != tt.wantImage {
				t.Errorf("Image = %q, want %q", spec.Image, tt.wantImage)
			}
			if diff := cmp.Diff(tt.wantEnv, spec.Env); diff != "" {
				t.Errorf("Env (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnvFile(t *testing.T) {
	t.Setenv("FROM_OS", "leaked")
	st, _ := mustLoadWeb(t, map[string]string{
		"web/compose.yaml": `
services:
  app:
    image: app:1
    env_file:
      - common.env
      - path: ./optional.env
        required: false
    environment:
      OVERRIDE: service
`,
		"web/common.env": "A=1\nOVERRIDE=file\nFROM_OS\nEXPANDED=${A}-x\n",
	}, Options{})
	want := []string{"A=1", "EXPANDED=1-x", "OVERRIDE=service"}
	if diff := cmp.Diff(want, st.Services["app"].Spec.Env); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
}

func TestExtendsAndInclude(t *testing.T) {
	st, sd := mustLoadWeb(t, map[string]string{
		"web/compose.yaml": `
include:
  - lib/worker.yaml
services:
  app:
    extends:
      file: base.yaml
      service: base
    environment:
      ROLE: app
`,
		"web/base.yaml": `
services:
  base:
    image: app:1
    environment:
      LOG: debug
    volumes:
      - ./base.conf:/etc/base.conf:ro
`,
		"web/base.conf": "base",
		"web/lib/worker.yaml": `
services:
  worker:
    image: worker:1
    volumes:
      - ./worker.conf:/etc/worker.conf:ro
`,
		"web/lib/worker.conf": "worker",
	}, Options{})
	app := st.Services["app"].Spec
	if diff := cmp.Diff([]string{"LOG=debug", "ROLE=app"}, app.Env); diff != "" {
		t.Errorf("app Env (-want +got):\n%s", diff)
	}
	if app.Image != "app:1" || len(app.Mounts) != 1 || app.Mounts[0].Source != filepath.Join(sd.Dir, "base.conf") || app.Mounts[0].Content == "" {
		t.Errorf("app spec from extends = %+v", app)
	}
	w, ok := st.Services["worker"]
	if !ok {
		t.Fatalf("included service worker missing; services: %v", st.ServiceNames())
	}
	// Paths in an included file are relative to that file's directory.
	if got, want := w.Spec.Mounts[0].Source, filepath.Join(sd.Dir, "lib", "worker.conf"); got != want {
		t.Errorf("worker bind source = %q, want %q", got, want)
	}
}

func TestProfiles(t *testing.T) {
	compose := `
services:
  app:
    image: app:1
  debug:
    image: debug:1
    profiles: [debug]
    use_api_socket: true # unsupported, but only checked when the profile is active
`
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": compose}, Options{})
	if diff := cmp.Diff([]string{"app"}, st.ServiceNames()); diff != "" {
		t.Errorf("services without profiles (-want +got):\n%s", diff)
	}
	_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": compose}, Options{Profiles: []string{"debug"}})
	if err == nil || !strings.Contains(err.Error(), `service debug: field "use_api_socket"`) {
		t.Errorf("with profile debug: err = %v, want the ipc rejection", err)
	}
}

func TestLoadBrokenAndGood(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"good/compose.yaml":   "services:\n  app:\n    image: app:1\n",
		"bad/compose.yaml":    "services:\n  app:\n    image: app:1\n    use_api_socket: true\n",
		"ugly/compose.yaml":   "services: [\n",
		"notastack/README.md": "hello",
	})
	d, err := Load(t.Context(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"bad", "good", "ugly"}, d.StackNames()); diff != "" {
		t.Errorf("StackNames (-want +got):\n%s", diff)
	}
	if _, ok := d.Stacks["good"]; !ok || len(d.Stacks) != 1 {
		t.Errorf("Stacks = %v, want only good", d.Stacks)
	}
	if err := d.Broken["bad"]; err == nil || !strings.Contains(err.Error(), `stack bad (bad/compose.yaml): service app: field "use_api_socket"`) {
		t.Errorf("Broken[bad] = %v", err)
	}
	if err := d.Broken["ugly"]; err == nil || !strings.Contains(err.Error(), "stack ugly (ugly/compose.yaml)") {
		t.Errorf("Broken[ugly] = %v", err)
	}
}

func TestLoadMissingRoot(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := Load(t.Context(), missing, Options{}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("err = %v, want one naming %s", err, missing)
	}
}

func TestLoadCancelled(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a/compose.yaml": "services:\n  app:\n    image: app:1\n"})
	ctx, cancel := contextWithCancel(t)
	cancel()
	if _, err := Load(ctx, root, Options{}); err == nil {
		t.Error("Load with a cancelled context succeeded; a cancelled load must not report stacks as broken or loaded")
	}
}

func TestDiscover(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    []string // "name file" relative to root
		wantErr string
	}{
		{
			name:  "root is the stack",
			files: map[string]string{"compose.yml": "", "sub/compose.yaml": ""},
			want:  []string{"ROOT compose.yml"},
		},
		{
			name: "subdirectories",
			files: map[string]string{
				"b/docker-compose.yml":   "",
				"a/compose.yaml":         "",
				"My_App/compose.yaml":    "",
				"empty/":                 "",
				".git/compose.yaml":      "",
				".github/compose.yaml":   "",
				"deeper/x/compose.yaml":  "",
				"file-not-dir.yaml":      "",
				"c/docker-compose.yaml":  "",
				"c/compose.override.yml": "",
			},
			want: []string{"a a/compose.yaml", "b b/docker-compose.yml", "c c/docker-compose.yaml", "my_app My_App/compose.yaml"},
		},
		{
			name:    "two compose files",
			files:   map[string]string{"a/compose.yaml": "", "a/docker-compose.yml": ""},
			wantErr: "holds both compose.yaml and docker-compose.yml",
		},
		{
			name:    "two dirs, one name",
			files:   map[string]string{"App/compose.yaml": "", "app/compose.yaml": ""},
			wantErr: `both give the stack name "app"`,
		},
		{
			name:  "no stacks",
			files: map[string]string{"README.md": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "Snap.Root")
			writeTree(t, root, tt.files)
			dirs, err := Discover(root)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range dirs {
				rel, _ := filepath.Rel(root, d.File)
				name := d.Name
				if d.Dir == root {
					name = "ROOT"
					if d.Name != "snaproot" {
						t.Errorf("root stack name = %q, want snaproot", d.Name)
					}
				}
				if d.Root != root || filepath.Dir(d.File) != d.Dir {
					t.Errorf("StackDir %+v: inconsistent Root/Dir/File", d)
				}
				got = append(got, name+" "+filepath.ToSlash(rel))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Discover (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiscoverBadRoot(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing"), file} {
		if _, err := Discover(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Discover(%s) err = %v, want one naming the path", p, err)
		}
	}
}

// TestProjectNameIsTheDirectory: the stack name comes from the directory
// (DESIGN.md); a top-level name: does not rename the stack's resources.
func TestProjectNameIsTheDirectory(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": "name: other\nservices:\n  app:\n    image: app:1\n"}, Options{})
	if got := st.Services["app"].Spec.Networks[0].Name; got != "web_default" {
		t.Errorf("network = %q, want web_default", got)
	}
}

func TestCommandNilVersusEmpty(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": "services:\n  keep:\n    image: app:1\n  clear:\n    image: app:1\n    command: []\n"}, Options{})
	if c := st.Services["keep"].Spec.Command; c != nil {
		t.Errorf("no command: Command = %#v, want nil (the image's)", c)
	}
	if c := st.Services["clear"].Spec.Command; c == nil || len(c) != 0 {
		t.Errorf("command: []: Command = %#v, want empty, non-nil", c)
	}
}
