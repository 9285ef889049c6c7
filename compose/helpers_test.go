package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/reconcile"
)

// writeTree writes files (path → content) under root; a trailing "/" in a
// path makes a directory.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadWeb writes files into a temp snapshot and loads the one stack in it.
func loadWeb(t *testing.T, files map[string]string, opts Options) (*reconcile.Stack, StackDir, error) {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, files)
	dirs, err := Discover(root)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if len(dirs) != 1 {
		t.Fatalf("Discover found %d stacks, want 1", len(dirs))
	}
	st, err := LoadStack(t.Context(), dirs[0], opts)
	return st, dirs[0], err
}

// mustLoadWeb is loadWeb for inputs that must load.
func mustLoadWeb(t *testing.T, files map[string]string, opts Options) (*reconcile.Stack, StackDir) {
	t.Helper()
	st, sd, err := loadWeb(t, files, opts)
	if err != nil {
		t.Fatalf("LoadStack: %v", err)
	}
	return st, sd
}

// digest is the content digest of the file or directory p, as a bind of
// it carries.
func digest(t *testing.T, p string) string {
	t.Helper()
	r, err := openRepo(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m := mapper{repo: r, budget: newBudget(t.Context(), Limits{})}
	d, err := m.contentDigest(filepath.Base(p))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
