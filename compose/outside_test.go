package compose

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secret is what the host beside a hostile repository holds. No load may
// put it into an error or a loaded value.
const secret = "hunter2-from-outside-the-repository"

// hostile is a repository with a host beside it.
type hostile struct {
	repo, host string
}

func newHostile(t *testing.T) hostile {
	t.Helper()
	dir := t.TempDir()
	h := hostile{repo: filepath.Join(dir, "repo"), host: filepath.Join(dir, "host")}
	stack := "services:\n  app:\n    image: app:1\n    environment: [SECRET=" + secret + "]\n  base:\n    image: app:1\n    environment: [SECRET=" + secret + "]\n"
	writeTree(t, h.host, map[string]string{
		"secret.env":         "SECRET=" + secret + "\n",
		"secret.yaml":        stack,
		"stack/compose.yaml": stack,
		"stack/.env":         "SECRET=" + secret + "\n",
	})
	if err := os.MkdirAll(h.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

// expand replaces {{HOST}} with the host directory.
func (h hostile) expand(s string) string { return strings.ReplaceAll(s, "{{HOST}}", h.host) }

// write writes files (contents expanded) and symlinks (link → target,
// targets expanded) into the repository.
func (h hostile) write(t *testing.T, files, links map[string]string) {
	t.Helper()
	expanded := map[string]string{}
	for p, c := range files {
		expanded[p] = h.expand(c)
	}
	writeTree(t, h.repo, expanded)
	for link, target := range links {
		full := filepath.Join(h.repo, filepath.FromSlash(link))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(h.expand(target), full); err != nil {
			t.Fatal(err)
		}
	}
}

// assertNoSecret fails if the secret appears in err or in v (as JSON).
func assertNoSecret(t *testing.T, err error, v any) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("the error shows the secret from outside the repository:\n%v", err)
	}
	b, jerr := json.Marshal(v)
	if jerr != nil {
		t.Fatal(jerr)
	}
	if strings.Contains(string(b), secret) {
		t.Errorf("a loaded value holds the secret from outside the repository:\n%s", b)
	}
}

const app = "services:\n  app:\n    image: app:1\n"

// TestLoadRefusesOutside: every file that builds desired state is a regular
// file inside the repository; each way out is refused with an error naming
// the stack, the field and the file, and nothing from outside is shown.
func TestLoadRefusesOutside(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		links map[string]string
		want  []string
	}{
		{
			name:  "env_file absolute",
			files: map[string]string{"web/compose.yaml": app + "    env_file: [{{HOST}}/secret.env]\n"},
			want:  []string{`service app: env_file "{{HOST}}/secret.env": outside the repository`},
		},
		{
			name:  "env_file escapes with ..",
			files: map[string]string{"web/compose.yaml": app + "    env_file: [../../host/secret.env]\n"},
			want:  []string{`service app: env_file "{{HOST}}/secret.env": outside the repository`},
		},
		{
			name:  "env_file of the process environment",
			files: map[string]string{"web/compose.yaml": app + "    env_file: [/proc/self/environ]\n"},
			want:  []string{`service app: env_file "/proc/self/environ": outside the repository`},
		},
		{
			name:  "optional env_file outside",
			files: map[string]string{"web/compose.yaml": app + "    env_file:\n      - path: {{HOST}}/secret.env\n        required: false\n"},
			want:  []string{`env_file "{{HOST}}/secret.env": outside the repository`},
		},
		{
			name:  "env_file symlink to a host file",
			files: map[string]string{"web/compose.yaml": app + "    env_file: [app.env]\n"},
			links: map[string]string{"web/app.env": "{{HOST}}/secret.env"},
			want:  []string{`service app: env_file "web/app.env": outside the repository`},
		},
		{
			name:  "env_file symlink to dev zero",
			files: map[string]string{"web/compose.yaml": app + "    env_file: [zero.env]\n"},
			links: map[string]string{"web/zero.env": "/dev/zero"},
			want:  []string{`service app: env_file "web/zero.env": outside the repository`},
		},
		{
			name:  "env_file relative symlink climbing out",
			files: map[string]string{"web/compose.yaml": app + "    env_file: [app.env]\n"},
			links: map[string]string{"web/app.env": "../../host/secret.env"},
			want:  []string{`env_file "web/app.env": outside the repository`},
		},
		{
			name:  "env_file is a directory",
			files: map[string]string{"web/compose.yaml": app + "    env_file: [conf]\n", "web/conf/a": "a"},
			want:  []string{`service app: env_file "web/conf": not a regular file`},
		},
		{
			name:  "label_file absolute",
			files: map[string]string{"web/compose.yaml": app + "    label_file: [{{HOST}}/secret.env]\n"},
			want:  []string{`service app: label_file "{{HOST}}/secret.env": outside the repository`},
		},
		{
			name:  "label_file symlink",
			files: map[string]string{"web/compose.yaml": app + "    label_file: [app.labels]\n"},
			links: map[string]string{"web/app.labels": "{{HOST}}/secret.env"},
			want:  []string{`service app: label_file "web/app.labels": outside the repository`},
		},
		{
			name:  ".env symlink to a host file",
			files: map[string]string{"web/compose.yaml": app + "    environment: ['S=${SECRET}']\n"},
			links: map[string]string{"web/.env": "{{HOST}}/secret.env"},
			want:  []string{`.env "web/.env": outside the repository`},
		},
		{
			name:  ".env symlink to dev zero",
			files: map[string]string{"web/compose.yaml": app},
			links: map[string]string{"web/.env": "/dev/zero"},
			want:  []string{`.env "web/.env": outside the repository`},
		},
		{
			name:  "include absolute",
			files: map[string]string{"web/compose.yaml": "include: [{{HOST}}/secret.yaml]\n"},
			want:  []string{`include "{{HOST}}/secret.yaml": outside the repository`},
		},
		{
			name:  "include symlink",
			files: map[string]string{"web/compose.yaml": "include: [lib.yaml]\n" + app},
			links: map[string]string{"web/lib.yaml": "{{HOST}}/secret.yaml"},
			want:  []string{`include "lib.yaml": outside the repository`},
		},
		{
			name:  "include dev zero",
			files: map[string]string{"web/compose.yaml": "include: [/dev/zero]\n" + app},
			want:  []string{`include "/dev/zero": outside the repository`},
		},
		{
			name: "include env_file",
			files: map[string]string{
				"web/compose.yaml": "include:\n  - path: lib.yaml\n    env_file: {{HOST}}/secret.env\n" + app,
				"web/lib.yaml":     "services:\n  lib:\n    image: lib:1\n    environment: ['S=${SECRET:-none}']\n",
			},
			want: []string{`include "lib.yaml": env_file "{{HOST}}/secret.env": outside the repository`},
		},
		{
			name: "include project_directory",
			files: map[string]string{
				"web/compose.yaml": "include:\n  - path: lib.yaml\n    project_directory: {{HOST}}/stack\n" + app,
				"web/lib.yaml":     "services:\n  lib:\n    image: lib:1\n    environment: ['S=${SECRET:-none}']\n",
			},
			want: []string{`include "lib.yaml": project_directory "{{HOST}}/stack": outside the repository`},
		},
		{
			name: "include reads the .env of the included project",
			files: map[string]string{
				"web/compose.yaml":    "include: [lib/app.yaml]\n",
				"web/lib/app.yaml":    "services:\n  lib:\n    image: lib:1\n    environment: ['S=${SECRET:-none}']\n",
				"web/lib/placeholder": "",
			},
			links: map[string]string{"web/lib/.env": "{{HOST}}/secret.env"},
			want:  []string{`include "lib/app.yaml": .env "web/lib/.env": outside the repository`},
		},
		{
			name: "include in an included file",
			files: map[string]string{
				"web/compose.yaml": "include: [lib/a.yaml]\n" + app,
				"web/lib/a.yaml":   "include: [{{HOST}}/secret.yaml]\n",
			},
			want: []string{`include "{{HOST}}/secret.yaml": outside the repository`},
		},
		{
			name:  "extends absolute",
			files: map[string]string{"web/compose.yaml": app + "    extends:\n      file: {{HOST}}/secret.yaml\n      service: base\n"},
			want:  []string{`extends.file "{{HOST}}/secret.yaml": outside the repository`},
		},
		{
			name:  "extends symlink",
			files: map[string]string{"web/compose.yaml": app + "    extends:\n      file: base.yaml\n      service: base\n"},
			links: map[string]string{"web/base.yaml": "{{HOST}}/secret.yaml"},
			want:  []string{`extends.file "base.yaml": outside the repository`},
		},
		{
			name:  "config file absolute",
			files: map[string]string{"web/compose.yaml": app + "    configs: [c]\nconfigs:\n  c:\n    file: {{HOST}}/secret.env\n"},
			want:  []string{`service app: config c: file "{{HOST}}/secret.env": outside the repository`},
		},
		{
			name:  "secret file symlink",
			files: map[string]string{"web/compose.yaml": app + "    secrets: [s]\nsecrets:\n  s:\n    file: ./s.txt\n"},
			links: map[string]string{"web/s.txt": "{{HOST}}/secret.env"},
			want:  []string{`service app: secret s: file "web/s.txt": outside the repository`},
		},
		{
			name:  "compose file symlink",
			files: map[string]string{"web/placeholder": ""},
			links: map[string]string{"web/compose.yaml": "{{HOST}}/secret.yaml"},
			want:  []string{`stack web (web/compose.yaml): compose file "web/compose.yaml": outside the repository`},
		},
		{
			name:  "stack directory symlink",
			links: map[string]string{"web": "{{HOST}}/stack"},
			want:  []string{`stack web (web): stack directory "web": outside the repository`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHostile(t)
			h.write(t, tt.files, tt.links)
			d, err := Load(t.Context(), h.repo, Options{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			assertNoSecret(t, nil, d.Stacks)
			if _, ok := d.Stacks["web"]; ok {
				t.Fatalf("stack web loaded; want it refused")
			}
			got := d.Broken["web"]
			if got == nil {
				t.Fatalf("stack web is neither loaded nor broken: %v", d.StackNames())
			}
			assertNoSecret(t, got, nil)
			for _, w := range append([]string{"stack web ("}, tt.want...) {
				if w = h.expand(w); !strings.Contains(got.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", got, w)
				}
			}
		})
	}
}
