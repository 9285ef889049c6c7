package stackdir_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/stackdir"
)

// fixture is two revisions' files and the stack directories of a source.
type fixture struct {
	t     *testing.T
	snaps map[string]string // revision -> its files
	dirs  *stackdir.Dirs
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, snaps: map[string]string{}}
	f.dirs = &stackdir.Dirs{Root: t.TempDir(), Manifests: t.TempDir(),
		Snapshot: func(rev string) (string, error) {
			dir, ok := f.snaps[rev]
			if !ok {
				return "", os.ErrNotExist
			}
			return dir, nil
		}}
	return f
}

// revision makes a revision's snapshot holding files (path -> content).
func (f *fixture) revision(rev string, files map[string]string) reconcile.StackFiles {
	f.t.Helper()
	dir := f.t.TempDir()
	want := reconcile.StackFiles{Revision: rev, Digest: rev}
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o444); err != nil {
			f.t.Fatal(err)
		}
		want.Files = append(want.Files, p)
	}
	f.snaps[rev] = dir
	return want
}

func (f *fixture) sync(want reconcile.StackFiles) error {
	return f.dirs.SyncFiles(context.Background(), "app", want)
}

func (f *fixture) read(p string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dirs.Root, p))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func (f *fixture) write(p, content string) {
	f.t.Helper()
	full := filepath.Join(f.dirs.Root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestSyncKeepsWhatContainersWrite: tracked files follow the revision;
// what containers wrote beside them, and directories binds need, are never
// touched; an unchanged file keeps its inode, a changed one is replaced
// by a new one.
func TestSyncKeepsWhatContainersWrite(t *testing.T) {
	f := newFixture(t)
	r1 := f.revision("r1", map[string]string{"app/compose.yaml": "v1", "app/app.conf": "a=1", "app/data/.gitkeep": "", "app/old.txt": "old"})
	r1.Dirs = []string{"app/data", "app/logs"}
	if err := f.sync(r1); err != nil {
		t.Fatal(err)
	}
	f.write("app/data/db", "precious")
	f.write("app/logs/today", "lines")
	composeInode := inode(t, filepath.Join(f.dirs.Root, "app/compose.yaml"))
	confInode := inode(t, filepath.Join(f.dirs.Root, "app/app.conf"))

	r2 := f.revision("r2", map[string]string{"app/compose.yaml": "v1", "app/app.conf": "a=2", "app/data/.gitkeep": ""})
	if err := f.sync(r2); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"app/app.conf": "a=2", "app/compose.yaml": "v1", "app/data/db": "precious", "app/logs/today": "lines",
	} {
		if got := f.read(p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if got := f.read("app/old.txt"); !strings.Contains(got, "no such file") {
		t.Errorf("a file git no longer tracks is still there: %q", got)
	}
	if inode(t, filepath.Join(f.dirs.Root, "app/compose.yaml")) != composeInode {
		t.Error("an unchanged file was rewritten")
	}
	if inode(t, filepath.Join(f.dirs.Root, "app/app.conf")) == confInode {
		t.Error("a changed file was written in place, not replaced")
	}
	got, err := f.dirs.ObserveFiles(context.Background())
	if err != nil || got["app"].Revision != "r2" || len(got["app"].Files) != 3 {
		t.Fatalf("observed %+v %v", got, err)
	}
}

// TestSyncLeavesAChangedFileGitDropped: a tracked file something changed
// after moor wrote it is not removed when git drops it; the sync says so.
func TestSyncLeavesAChangedFileGitDropped(t *testing.T) {
	f := newFixture(t)
	if err := f.sync(f.revision("r1", map[string]string{"app/seed.sql": "create"})); err != nil {
		t.Fatal(err)
	}
	f.write("app/seed.sql", "create; insert")
	err := f.sync(f.revision("r2", map[string]string{"app/compose.yaml": "v2"}))
	if err == nil || !strings.Contains(err.Error(), "app/seed.sql") {
		t.Fatalf("sync: %v, want it to name the file it left", err)
	}
	if got := f.read("app/seed.sql"); got != "create; insert" {
		t.Errorf("the changed file is %q", got)
	}
}

// TestSyncRefusesToLeaveTheRoot: a path out of the stack directories, or a
// file that is not a regular file in the revision, is an error.
func TestSyncRefusesToLeaveTheRoot(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"../escape", "/etc/passwd", "app/../../x"} {
		want := f.revision("r-"+strings.ReplaceAll(p, "/", "_"), nil)
		want.Files = []string{p}
		if err := f.sync(want); err == nil {
			t.Errorf("%s: synced", p)
		}
	}
	r := f.revision("r-link", map[string]string{"app/real": "x"})
	if err := os.Symlink("/etc/passwd", filepath.Join(f.snaps["r-link"], "app/link")); err != nil {
		t.Fatal(err)
	}
	r.Files = append(r.Files, "app/link")
	if err := f.sync(r); err == nil {
		t.Error("a symlink out of the snapshot was followed")
	}
}
