package gitsource_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moor-dev/moor/gitsource"
)

func checkout(t testing.TB, s *gitsource.Source) *gitsource.Snapshot {
	t.Helper()
	rev, err := s.Resolve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Checkout(t.Context(), rev)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestCheckout(t *testing.T) {
	r, _ := newOrigin(t)
	r.Write("api/compose.yaml", "services: {api: {image: api}}\n")
	r.Write("bin/run.sh", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(r.Dir, "bin/run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(r.Dir, "out")); err != nil {
		t.Fatal(err)
	}
	head := r.Commit("add api\n\nlonger body")
	s := newSource(t, r.Bare(), "main")

	snap := checkout(t, s)
	if snap.Revision != (gitsource.Revision{Ref: "main", Commit: head}) {
		t.Errorf("Revision = %s, want main@sha1:%s", snap.Revision, head)
	}
	want := map[string]string{
		"web/compose.yaml": "services: {web: {image: nginx}}\n",
		"api/compose.yaml": "services: {api: {image: api}}\n",
		"bin/run.sh":       "#!/bin/sh\n",
		"out":              "outside\n", // a symlink, read through
	}
	if diff := cmp.Diff(want, files(t, snap.Dir)); diff != "" {
		t.Errorf("snapshot files (-want +got):\n%s", diff)
	}
	if snap.Subject != "add api" || snap.Author != "moor test" || snap.AuthorEmail != "test@moor.invalid" {
		t.Errorf("metadata = %q by %q <%s>", snap.Subject, snap.Author, snap.AuthorEmail)
	}
	if want := r.Git("log", "-1", "--format=%at"); snap.Time.IsZero() || strconv.FormatInt(snap.Time.Unix(), 10) != want {
		t.Errorf("Time = %v, want unix %s", snap.Time, want)
	}
	if parent := filepath.Dir(snap.Dir); parent != filepath.Join(s.Dir, "snapshots") {
		t.Errorf("snapshot dir %s not under %s/snapshots", snap.Dir, s.Dir)
	}
	for path, mode := range map[string]os.FileMode{"": 0o555, "web": 0o555, "web/compose.yaml": 0o444, "bin/run.sh": 0o555} {
		fi, err := os.Stat(filepath.Join(snap.Dir, path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("mode of %q = %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	if target, err := os.Readlink(filepath.Join(snap.Dir, "out")); err != nil || target != outside {
		t.Errorf("symlink out -> %q, %v; want -> %s", target, err, outside)
	}
	if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("the target of a symlink in the repository was chmodded: %v %v", fi.Mode(), err)
	}
	if os.Geteuid() != 0 {
		if err := os.WriteFile(filepath.Join(snap.Dir, "web/compose.yaml"), nil, 0o644); err == nil {
			t.Error("a snapshot file is writable")
		}
	}
}

func TestCheckoutReusesWithoutNetwork(t *testing.T) {
	r, _ := newOrigin(t)
	bare := r.Bare()
	s := newSource(t, bare, "main")
	rev, err := s.Resolve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Checkout(t.Context(), rev)
	if err != nil {
		t.Fatal(err)
	}
	// Without the origin any fetch fails: success proves no network call.
	path := strings.TrimPrefix(bare, "file://")
	if err := os.Rename(path, path+".gone"); err != nil {
		t.Fatal(err)
	}
	again, err := s.Checkout(t.Context(), rev)
	if err != nil {
		t.Fatalf("second Checkout of the same revision: %v", err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("reused snapshot differs (-first +again):\n%s", diff)
	}
	if _, err := s.Resolve(t.Context()); err == nil {
		t.Error("Resolve succeeded without the origin: the test proves nothing")
	}
}

func TestCheckoutNewCommit(t *testing.T) {
	r, _ := newOrigin(t)
	s := newSource(t, r.Dir, "main")
	old := checkout(t, s)
	r.Write("web/compose.yaml", "services: {web: {image: caddy}}\n")
	head := r.Commit("caddy")
	snap := checkout(t, s)
	if snap.Revision.Commit != head || snap.Dir == old.Dir {
		t.Fatalf("new commit: got %s in %s (old %s)", snap.Revision, snap.Dir, old.Dir)
	}
	if got := files(t, snap.Dir)["web/compose.yaml"]; !strings.Contains(got, "caddy") {
		t.Errorf("new snapshot has %q", got)
	}
	if got := files(t, old.Dir)["web/compose.yaml"]; !strings.Contains(got, "nginx") {
		t.Errorf("old snapshot changed: %q", got)
	}
}

func TestCheckoutForcePush(t *testing.T) {
	r, _ := newOrigin(t)
	r.Write("a", "a\n")
	r.Commit("a")
	bare := r.Bare()
	s := newSource(t, bare, "main")
	before := checkout(t, s)

	r.Git("reset", "--hard", "HEAD~1")
	r.Write("b", "b\n")
	rewritten := r.Commit("b instead of a")
	r.Push()

	snap := checkout(t, s)
	if snap.Revision.Commit != rewritten || snap.Revision == before.Revision {
		t.Fatalf("after force-push got %s, want %s", snap.Revision, rewritten)
	}
	got := files(t, snap.Dir)
	if _, ok := got["a"]; ok || got["b"] != "b\n" {
		t.Errorf("force-pushed snapshot files: %v", got)
	}
}

func TestCheckoutBranchMoved(t *testing.T) {
	r, _ := newOrigin(t)
	s := newSource(t, r.Dir, "main")
	rev, err := s.Resolve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r.Write("moved", "x\n")
	moved := r.Commit("moved")
	snap, err := s.Checkout(t.Context(), rev)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != (gitsource.Revision{Ref: "main", Commit: moved}) {
		t.Errorf("Revision = %s, want the fetched main@sha1:%s", snap.Revision, moved)
	}
	if filepath.Base(snap.Dir) != moved {
		t.Errorf("snapshot of %s stored in %s", moved, snap.Dir)
	}
	if _, ok := files(t, snap.Dir)["moved"]; !ok {
		t.Error("snapshot lacks the moved commit's file")
	}
}

func TestCheckoutRefs(t *testing.T) {
	r, first := newOrigin(t)
	r.Git("tag", "-a", "v1", "-m", "release v1")
	r.Git("tag", "light")
	r.Write("web/compose.yaml", "v2\n")
	r.Commit("second")
	for _, ref := range []string{"v1", "light", first} {
		t.Run(ref, func(t *testing.T) {
			snap := checkout(t, newSource(t, r.Bare(), ref))
			if snap.Revision != (gitsource.Revision{Ref: ref, Commit: first}) {
				t.Errorf("Revision = %s, want %s@sha1:%s", snap.Revision, ref, first)
			}
			if got := files(t, snap.Dir)["web/compose.yaml"]; got != "services: {web: {image: nginx}}\n" {
				t.Errorf("compose.yaml = %q", got)
			}
		})
	}
}

func TestCheckoutUnknownCommit(t *testing.T) {
	r, _ := newOrigin(t)
	s := newSource(t, r.Dir, strings.Repeat("0", 39)+"1")
	rev, err := s.Resolve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkout(t.Context(), rev); err == nil || !strings.Contains(err.Error(), rev.Commit) {
		t.Fatalf("Checkout of a missing commit: err = %v", err)
	}
}

func TestPrune(t *testing.T) {
	r, _ := newOrigin(t)
	s := newSource(t, r.Dir, "main")
	var snaps []*gitsource.Snapshot
	for i := range 3 {
		if i > 0 {
			r.Write("n", strings.Repeat("x", i))
			r.Commit("next")
		}
		snaps = append(snaps, checkout(t, s))
	}
	// Leftovers of a crash: a fetch's temp dir (read-only files inside), and
	// a snapshot renamed into place whose metadata was never written.
	tmp := filepath.Join(s.Dir, ".tmp-123")
	if err := os.MkdirAll(filepath.Join(tmp, "tree", "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(tmp, "tree", "d"), 0o555)
	// Another process's file being written next to the snapshots (the
	// controller's status or suspensions): not a fetch, not Prune's.
	others := ".tmp-suspended.json123"
	if err := os.WriteFile(filepath.Join(s.Dir, others), []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}
	unfinished := filepath.Join(s.Dir, "snapshots", strings.Repeat("c", 40))
	if err := os.Mkdir(unfinished, 0o555); err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{snaps[0].Revision.Commit: true, snaps[2].Revision.Commit: true}
	if err := s.Prune(keep); err != nil {
		t.Fatal(err)
	}
	var left []string
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	entries, _ = os.ReadDir(filepath.Join(s.Dir, "snapshots"))
	for _, e := range entries {
		left = append(left, "snapshots/"+e.Name())
	}
	c0, c2 := snaps[0].Revision.Commit, snaps[2].Revision.Commit
	want := []string{others, "snapshots", "snapshots/" + c0, "snapshots/" + c0 + ".json", "snapshots/" + c2, "snapshots/" + c2 + ".json"}
	if c2 < c0 {
		want = []string{others, "snapshots", "snapshots/" + c2, "snapshots/" + c2 + ".json", "snapshots/" + c0, "snapshots/" + c0 + ".json"}
	}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("after Prune (-want +got):\n%s", diff)
	}
	// The kept snapshots are still whole: checking them out again is free.
	os.RemoveAll(filepath.Join(r.Dir, ".git"))
	if _, err := s.Checkout(t.Context(), snaps[0].Revision); err != nil {
		t.Errorf("kept snapshot not reusable: %v", err)
	}
	if err := s.Prune(nil); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.Dir, "snapshots")); len(entries) != 0 {
		t.Errorf("Prune(nil) left %d entries", len(entries))
	}
}
