package compose

import (
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"
)

// insideLayout uses every way a stack may reach files elsewhere in the
// repository: relative paths that leave the stack directory, symlinks that
// stay inside, include (with env_file, project_directory and the included
// project's own .env), extends, label_file, configs and binds. A bind
// through a symlink to the host is a host bind.
var insideLayout = struct {
	files, links map[string]string
}{
	files: map[string]string{
		"shared/common.env":     "COMMON=1\nREF=${TAG}-ref\n",
		"shared/app.env":        "LINKED=yes\nOVERRIDE=file\n",
		"shared/labels":         "team=web\ntier=${tier:-front}\n",
		"shared/dotenv":         "TAG=1.2\n",
		"shared/db.yaml":        "services:\n  db:\n    image: db:${DB_TAG}\n    env_file: [db-runtime.env]\n",
		"shared/db.env":         "DB_TAG=16\n",
		"shared/db-runtime.env": "PGDATA=/data\n",
		"shared/inc/app.yaml":   "services:\n  inc:\n    image: inc:1\n    environment: ['INC=${INC}']\n",
		"shared/inc/.env":       "INC=from-the-included-dotenv\n",
		"shared/pd/svc.yaml":    "services:\n  pd:\n    image: pd:1\n    volumes: ['./data:/data']\n",
		"shared/pd/data/x":      "x",
		"shared/base.yaml":      "services:\n  base:\n    image: base:1\n    environment: [BASE=1]\n    volumes: ['./base.conf:/base.conf:ro']\n",
		"shared/base.conf":      "base",
		"shared/c.conf":         "config",
		"web/conf/a.txt":        "a",
		"web/compose.yaml": `include:
  - path: ../shared/db.yaml
    env_file: ../shared/db.env
  - ../shared/inc/app.yaml
  - path: ../shared/pd/svc.yaml
    project_directory: ../shared/pd
services:
  app:
    image: app:${TAG}
    extends:
      file: ../shared/base.yaml
      service: base
    env_file: [../shared/common.env, app.env]
    label_file: [../shared/labels]
    environment:
      OVERRIDE: service
    configs: [c]
    volumes: ['./conf:/conf:ro', './hostlink:/host']
configs:
  c:
    file: ./c.conf
`,
	},
	links: map[string]string{
		"web/.env":      "../shared/dotenv",
		"web/app.env":   "../shared/app.env",
		"web/c.conf":    "../shared/c.conf",
		"web/conf/link": "../../shared/c.conf",
		"web/hostlink":  "{{HOST}}",
	},
}

// TestLoadInsideTheRepository: the same kinds of paths as
// TestLoadRefusesOutside, kept inside the repository, load with the values
// compose computes.
func TestLoadInsideTheRepository(t *testing.T) {
	h := newHostile(t)
	h.write(t, insideLayout.files, insideLayout.links)
	d, err := Load(t.Context(), h.repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Broken["web"]; err != nil {
		t.Fatalf("stack web is broken: %v", err)
	}
	st := d.Stacks["web"]
	assertNoSecret(t, nil, d.Stacks)
	if diff := cmp.Diff([]string{"app", "db", "inc", "pd"}, st.ServiceNames()); diff != "" {
		t.Fatalf("services (-want +got):\n%s", diff)
	}

	app := st.Services["app"].Spec
	wantEnv := []string{"BASE=1", "COMMON=1", "LINKED=yes", "OVERRIDE=service", "REF=1.2-ref"}
	if diff := cmp.Diff(wantEnv, app.Env); diff != "" {
		t.Errorf("app Env (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"team": "web", "tier": "front"}, app.Labels); diff != "" {
		t.Errorf("app Labels (-want +got):\n%s", diff)
	}
	if got := st.Services["db"].Spec.Image; got != "db:16" {
		t.Errorf("db image = %q, want db:16 (from the include's env_file)", got)
	}
	if diff := cmp.Diff([]string{"INC=from-the-included-dotenv"}, st.Services["inc"].Spec.Env); diff != "" {
		t.Errorf("inc Env, from the included project's .env (-want +got):\n%s", diff)
	}
	if got, want := st.Services["pd"].Spec.Mounts[0].Source, filepath.Join(h.repo, "shared", "pd", "data"); got != want {
		t.Errorf("pd bind source = %s, want %s (relative to its project_directory)", got, want)
	}

	web := filepath.Join(h.repo, "web")
	mounts := map[string]string{} // target → content
	for _, m := range app.Mounts {
		mounts[m.Target] = m.Content
	}
	if mounts["/host"] != "" {
		t.Errorf("a bind through a symlink to the host has Content %q; a host bind is never read", mounts["/host"])
	}
	if mounts["/conf"] != digest(t, filepath.Join(web, "conf")) || mounts["/conf"] == "" {
		t.Errorf("bind ./conf Content = %q, want the digest of the directory", mounts["/conf"])
	}
	if want := digest(t, filepath.Join(h.repo, "shared", "c.conf")); mounts["/c"] != want {
		t.Errorf("config c Content = %q, want %q (the file behind the symlink)", mounts["/c"], want)
	}
	if mounts["/base.conf"] == "" {
		t.Error("bind from the extended base has no Content")
	}

	// compose-go, reading the same files itself, computes the same
	// environment and labels for every service.
	p := composeProject(t, web)
	for _, name := range st.ServiceNames() {
		svc := p.Services[name]
		if diff := cmp.Diff(environment(svc.Environment), st.Services[name].Spec.Env); diff != "" {
			t.Errorf("service %s Env differs from compose-go's (-compose +moor):\n%s", name, diff)
		}
		if diff := cmp.Diff(cloneMap(svc.Labels), st.Services[name].Spec.Labels); diff != "" {
			t.Errorf("service %s Labels differ from compose-go's (-compose +moor):\n%s", name, diff)
		}
	}
}

// composeProject loads the stack in dir with compose-go's defaults, which
// read every file themselves.
func composeProject(t *testing.T, dir string) *types.Project {
	t.Helper()
	env, err := dotenv.GetEnvFromFile(map[string]string{}, []string{filepath.Join(dir, ".env")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "compose.yaml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName(filepath.Base(dir), true) })
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(p.Services)); len(got) == 0 {
		t.Fatal("compose-go loaded no services")
	}
	return p
}
