package controller_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/controller"
)

func TestPrepareStateDir(t *testing.T) {
	mode := func(t *testing.T, dir string) fs.FileMode {
		t.Helper()
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	for _, tt := range []struct {
		name   string
		before fs.FileMode // 0: does not exist
		was    fs.FileMode
	}{
		{"created", 0, 0},
		{"private already", 0o700, 0},
		{"open to all", 0o755, 0o755},
		{"open to the group", 0o750, 0o750},
		{"writable by all", 0o777, 0o777},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if tt.before != 0 {
				if err := os.Mkdir(dir, tt.before); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tt.before); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			was, err := controller.PrepareStateDir(dir)
			if err != nil || was != tt.was {
				t.Fatalf("PrepareStateDir = %v, %v; want %v, no error", was, err, tt.was)
			}
			if got := mode(t, dir); got != 0o700 {
				t.Errorf("mode after = %v, want 0700", got)
			}
		})
	}

	t.Run("another user's", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a directory to another user")
		}
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		was, err := controller.PrepareStateDir(dir)
		if !errors.Is(err, controller.ErrStateDirExposed) || was != 0 {
			t.Fatalf("PrepareStateDir = %v, %v; want ErrStateDirExposed", was, err)
		}
		for _, want := range []string{dir, "mode 0755", "uid 65534", "chmod 700"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
		if got := mode(t, dir); got != 0o755 {
			t.Errorf("another user's directory changed to %v", got)
		}
	})

	t.Run("a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := controller.PrepareStateDir(path); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("PrepareStateDir of a file = %v", err)
		}
	})
}
