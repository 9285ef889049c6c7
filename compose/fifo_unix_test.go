//go:build unix

package compose

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFifosAreNotRead: a fifo in the repository would block its reader
// for ever; it is refused unopened wherever moor would read it.
func TestFifosAreNotRead(t *testing.T) {
	tests := []struct {
		name, fifo, compose, want string
	}{
		{"compose file", "web/compose.yml", app, `compose file "web/compose.yml": not a regular file`},
		{"env_file", "web/a.env", app + "    env_file: [a.env]\n", `service app: env_file "web/a.env": not a regular file`},
		{".env", "web/.env", app, `.env "web/.env": not a regular file`},
		{"include", "web/lib.yaml", "include: [lib.yaml]\n" + app, `include "lib.yaml": not a regular file`},
		{"config", "web/c.conf", app + "    configs: [c]\nconfigs:\n  c:\n    file: ./c.conf\n", `config c: file "web/c.conf": not a regular file`},
		{"in a bound directory", "web/conf/pipe", app + "    volumes: ['./conf:/conf']\n", "conf/pipe is neither a file, a directory nor a symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHostile(t)
			files := map[string]string{"web/conf/a": "a"}
			if tt.fifo != "web/compose.yml" {
				files["web/compose.yaml"] = tt.compose
			}
			h.write(t, files, nil)
			if err := syscall.Mkfifo(filepath.Join(h.repo, filepath.FromSlash(tt.fifo)), 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := Load(t.Context(), h.repo, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Broken["web"]; got == nil || !strings.Contains(got.Error(), tt.want) {
				t.Errorf("Broken[web] = %v, want %q", got, tt.want)
			}
		})
	}
}
