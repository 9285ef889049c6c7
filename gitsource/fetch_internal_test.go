package gitsource

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/moor-dev/moor/internal/testkit"
)

// fetchDepth fetches rev into a fresh repository and returns the commit it
// checked out and how many commits the fetch brought.
func fetchDepth(t *testing.T, s *Source, rev Revision) (string, int, int) {
	t.Helper()
	repo, commit, err := s.fetch(t.Context(), rev, filepath.Join(t.TempDir(), "git"), 1)
	if err != nil {
		t.Fatal(err)
	}
	iter, err := repo.CommitObjects()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := iter.Next(); err == nil; _, err = iter.Next() {
		n++
	}
	shallow, err := repo.Storer.Shallow()
	if err != nil {
		t.Fatal(err)
	}
	return commit.Hash.String(), n, len(shallow)
}

func threeCommits(t *testing.T) *testkit.Repo {
	os.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	r := testkit.NewRepo(t)
	for _, c := range []string{"1", "2", "3"} {
		r.Write("f", c)
		r.Commit(c)
	}
	r.Git("tag", "-a", "v3", "-m", "v3")
	return r
}

// TestFetchIsShallow: through the file transport (the git-upload-pack
// binary) a branch or tag fetch brings one commit, not the history.
func TestFetchIsShallow(t *testing.T) {
	r := threeCommits(t)
	for _, ref := range []string{"main", "v3"} {
		s := &Source{URL: r.Dir, Ref: ref}
		commit, n, shallow := fetchDepth(t, s, Revision{Ref: ref, Commit: r.Head()})
		if commit != r.Head() || n != 1 || shallow != 1 {
			t.Errorf("fetch %s: commit %s, %d commits, %d shallow; want %s, 1, 1", ref, commit, n, shallow, r.Head())
		}
	}
}

// TestFetchInProcessServer documents go-git's in-process server, what a
// host without the git binary could install for "file": it serves bare
// repositories only, refuses depth (Checkout falls back to a full fetch) and
// advertises no peeled tags (Checkout peels after the fetch).
func TestFetchInProcessServer(t *testing.T) {
	r := threeCommits(t)
	fileClient := client.Protocols["file"]
	client.InstallProtocol("file", server.DefaultServer)
	t.Cleanup(func() { client.InstallProtocol("file", fileClient) })
	for _, ref := range []string{"main", "v3"} {
		s := &Source{URL: r.Bare(), Ref: ref, Dir: t.TempDir()}
		rev, err := s.Resolve(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("in-process %s: Resolve gives the commit: %v", ref, rev.Commit == r.Head())
		snap, err := s.Checkout(t.Context(), rev)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Revision.Commit != r.Head() {
			t.Errorf("checkout %s: commit %s, want %s", ref, snap.Revision.Commit, r.Head())
		}
		_, n, shallow := fetchDepth(t, s, rev)
		t.Logf("in-process %s: fetch brought %d commits, %d shallow", ref, n, shallow)
		if err := s.Prune(nil); err != nil {
			t.Fatal(err)
		}
	}
}
