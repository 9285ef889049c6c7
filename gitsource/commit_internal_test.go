package gitsource

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// storedSnapshot checks out main of a one-commit repository and returns
// the source, the snapshot and the bare remote's path.
func storedSnapshot(t *testing.T) (*Source, *Snapshot, string) {
	t.Helper()
	r := testkit.NewRepo(t)
	r.Write("web/compose.yaml", "services: {web: {image: nginx}}\n")
	head := r.Commit("deploy nginx")
	s := ancestrySource(t, r.Bare())
	snap, err := s.Checkout(t.Context(), Revision{Ref: "main", Commit: head})
	if err != nil {
		t.Fatal(err)
	}
	return s, snap, strings.TrimPrefix(r.Bare(), "file://")
}

// editMeta rewrites a snapshot's metadata file through edit.
func editMeta(t *testing.T, snap *Snapshot, edit func(*meta)) {
	t.Helper()
	path := snap.Dir + metaSuffix
	m, err := readMeta(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(&m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

// sameDir fails unless dir is still the directory fi was taken of: a
// snapshot that containers mount must not be replaced.
func sameDir(t *testing.T, before os.FileInfo, dir string) {
	t.Helper()
	after, err := os.Stat(dir)
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("snapshot directory %s was replaced (%v)", dir, err)
	}
}

// TestStoredCommitTampered alters the stored commit object: Commit must
// reject it, and the next Checkout stores a good copy again without
// replacing the snapshot's files.
func TestStoredCommitTampered(t *testing.T) {
	s, snap, _ := storedSnapshot(t)
	dirBefore, err := os.Stat(snap.Dir)
	if err != nil {
		t.Fatal(err)
	}
	editMeta(t, snap, func(m *meta) {
		m.Object = bytes.Replace(m.Object, []byte("deploy nginx"), []byte("deploy miner"), 1)
	})
	m, _ := readMeta(snap.Dir + metaSuffix)
	if !bytes.Contains(m.Object, []byte("deploy miner")) {
		t.Fatal("test setup: the object was not changed")
	}
	c, err := snap.Commit()
	if err == nil || !strings.Contains(err.Error(), snap.Revision.Commit) || !strings.Contains(err.Error(), "modified") {
		t.Fatalf("Commit of a tampered object = %v, %v; want an error naming %s", c, err, snap.Revision.Commit)
	}
	t.Log(err)

	again, err := s.Checkout(t.Context(), snap.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := again.Commit(); err != nil || c.Message != "deploy nginx\n" {
		t.Errorf("Commit after a new Checkout = %v, %v; want the genuine commit", c, err)
	}
	sameDir(t, dirBefore, snap.Dir)
}

// TestSnapshotWithoutObject plays a snapshot made before moor stored
// commit objects: Prune keeps it, Checkout does not reuse it (so its
// signature cannot go unchecked) but adds the object in place.
func TestSnapshotWithoutObject(t *testing.T) {
	s, snap, origin := storedSnapshot(t)
	dirBefore, err := os.Stat(snap.Dir)
	if err != nil {
		t.Fatal(err)
	}
	editMeta(t, snap, func(m *meta) { m.Object = nil })
	if _, err := snap.Commit(); err == nil || !strings.Contains(err.Error(), "no stored commit object") {
		t.Errorf("Commit without a stored object: err = %v", err)
	}
	if err := s.Prune(map[string]bool{snap.Revision.Commit: true}); err != nil {
		t.Fatal(err)
	}
	sameDir(t, dirBefore, snap.Dir)

	// Without the origin, a Checkout that reused the snapshot would succeed.
	if err := os.Rename(origin, origin+".gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkout(t.Context(), snap.Revision); err == nil {
		t.Fatal("Checkout reused a snapshot without its commit object")
	}
	if err := os.Rename(origin+".gone", origin); err != nil {
		t.Fatal(err)
	}
	again, err := s.Checkout(t.Context(), snap.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := again.Commit(); err != nil || c.Hash.String() != snap.Revision.Commit {
		t.Errorf("Commit after Checkout = %v, %v; want %s", c, err, snap.Revision.Commit)
	}
	sameDir(t, dirBefore, snap.Dir)
	if b, err := os.ReadFile(filepath.Join(snap.Dir, "web/compose.yaml")); err != nil || !bytes.Contains(b, []byte("nginx")) {
		t.Errorf("snapshot files after Checkout: %q, %v", b, err)
	}
}
