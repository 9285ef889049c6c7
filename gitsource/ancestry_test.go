package gitsource

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// emptyCommits adds n empty commits on the current branch and returns the
// last one.
func emptyCommits(r *testkit.Repo, n int) string {
	for i := range n {
		r.Git("commit", "--quiet", "--allow-empty", "-m", "c"+strconv.Itoa(i))
	}
	return r.Head()
}

func ancestrySource(t *testing.T, url string) *Source {
	t.Helper()
	s := &Source{URL: url, Ref: "main", Dir: filepath.Join(t.TempDir(), "state")}
	t.Cleanup(func() {
		if err := s.Prune(nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return s
}

// TestIsAncestor runs each case against a bare remote that the work
// repository force-pushes to, and checks the answer and the depth of the
// fetch that gave it: the common case must be decided by the first, small
// fetch.
func TestIsAncestor(t *testing.T) {
	tests := []struct {
		name      string
		change    func(r *testkit.Repo) string // rewrites or extends main; returns the new head
		want      bool
		wantDepth int
	}{
		{"fast-forward by 1", func(r *testkit.Repo) string { return emptyCommits(r, 1) }, true, 16},
		{"fast-forward by 30", func(r *testkit.Repo) string { return emptyCommits(r, 30) }, true, 256},
		{"amended", func(r *testkit.Repo) string {
			r.Git("commit", "--quiet", "--amend", "--allow-empty", "-m", "amended")
			return r.Head()
		}, false, 16},
		{"amended, then 20 more", func(r *testkit.Repo) string {
			r.Git("commit", "--quiet", "--amend", "--allow-empty", "-m", "amended")
			return emptyCommits(r, 20)
		}, false, 256},
		{"unrelated history", func(r *testkit.Repo) string {
			r.Git("checkout", "--quiet", "--orphan", "fresh")
			r.Write("other", "x\n")
			r.Commit("unrelated")
			r.Git("branch", "--force", "main", "fresh")
			r.Git("checkout", "--quiet", "main")
			return r.Head()
		}, false, 16},
		{"merge of old", func(r *testkit.Repo) string {
			old := r.Head()
			r.Git("checkout", "--quiet", "-b", "side", "HEAD~1")
			emptyCommits(r, 3)
			r.Git("checkout", "--quiet", "main")
			r.Git("reset", "--quiet", "--hard", "side")
			r.Git("merge", "--quiet", "--no-ff", "-m", "merge", old)
			return r.Head()
		}, true, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testkit.NewRepo(t)
			emptyCommits(r, 3)
			old := r.Head()
			bare := r.Bare()
			s := ancestrySource(t, bare)
			new := tt.change(r)
			r.Push()
			got, depth, err := s.ancestry(t.Context(), old, new)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || depth != tt.wantDepth {
				t.Errorf("ancestry(%.7s, %.7s) = %v at depth %d, want %v at depth %d", old, new, got, depth, tt.want, tt.wantDepth)
			}
			if git := gitIsAncestor(t, r, old, new); git != tt.want {
				t.Fatalf("git merge-base --is-ancestor says %v: the case is wrong", git)
			}
			// The public method agrees, and a commit is its own ancestor
			// without any network call.
			if pub, err := s.IsAncestor(t.Context(), old, new); err != nil || pub != tt.want {
				t.Errorf("IsAncestor = %v, %v; want %v", pub, err, tt.want)
			}
		})
	}
}

// TestIsAncestorFullHistory shrinks the depths so that the last round, a
// fetch of the whole history, is what decides.
func TestIsAncestorFullHistory(t *testing.T) {
	saved := ancestryDepths
	ancestryDepths = []int{2, 4, 0}
	t.Cleanup(func() { ancestryDepths = saved })

	r := testkit.NewRepo(t)
	root := emptyCommits(r, 1)
	mid := emptyCommits(r, 3)
	head := emptyCommits(r, 10)
	r.Git("checkout", "--quiet", "-b", "rewritten", mid)
	r.Git("commit", "--quiet", "--amend", "--allow-empty", "-m", "amended")
	rewritten := emptyCommits(r, 10)
	s := ancestrySource(t, r.Dir)
	tests := []struct {
		ref, old, new string
		want          bool
		wantDepth     int
	}{
		{"main", mid, head, true, 0},
		{"main", root, head, true, 0},
		{"main", head, mid, false, 0},
		{"rewritten", mid, rewritten, false, 0},
		{"rewritten", root, rewritten, true, 0},
	}
	for _, tt := range tests {
		s.Ref = tt.ref
		got, depth, err := s.ancestry(t.Context(), tt.old, tt.new)
		if err != nil {
			t.Fatalf("%s: %v", tt.ref, err)
		}
		if got != tt.want || depth != tt.wantDepth {
			t.Errorf("%s: ancestry(%.7s, %.7s) = %v at depth %d, want %v at depth %d", tt.ref, tt.old, tt.new, got, depth, tt.want, tt.wantDepth)
		}
	}
}

// gitIsAncestor asks git itself, for checking the cases.
func gitIsAncestor(t *testing.T, r *testkit.Repo, old, new string) bool {
	t.Helper()
	cmd := exec.Command("git", "merge-base", "--is-ancestor", old, new)
	cmd.Dir = r.Dir
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("git merge-base --is-ancestor %s %s: %v", old, new, err)
	}
	return err == nil
}

func TestIsAncestorSame(t *testing.T) {
	// No repository at all: the answer needs no network.
	s := ancestrySource(t, filepath.Join(t.TempDir(), "missing"))
	sha := strings.Repeat("ab", 20)
	if ok, err := s.IsAncestor(t.Context(), sha, sha); !ok || err != nil {
		t.Errorf("IsAncestor(x, x) = %v, %v; want true", ok, err)
	}
}

func TestIsAncestorErrors(t *testing.T) {
	r := testkit.NewRepo(t)
	old := emptyCommits(r, 1)
	new := emptyCommits(r, 1)
	r.Git("checkout", "--quiet", "-b", "other")
	elsewhere := emptyCommits(r, 1)

	missing := filepath.Join(t.TempDir(), "no-such-repo")
	_, err := ancestrySource(t, missing).IsAncestor(t.Context(), old, new)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), old) {
		t.Errorf("unreachable remote: err = %v, want ErrUnreachable naming %s and %s", err, missing, old)
	}

	s := ancestrySource(t, r.Dir)
	_, err = s.IsAncestor(t.Context(), old, elsewhere)
	if !errors.Is(err, ErrRefNotFound) || !strings.Contains(err.Error(), elsewhere) {
		t.Errorf("new not on the ref: err = %v, want ErrRefNotFound naming %s", err, elsewhere)
	}

	s.Ref = "gone"
	if _, err := s.IsAncestor(t.Context(), old, new); !errors.Is(err, ErrRefNotFound) {
		t.Errorf("missing ref: err = %v, want ErrRefNotFound", err)
	}

	if _, err := s.IsAncestor(t.Context(), "HEAD", new); err == nil || !strings.Contains(err.Error(), `"HEAD"`) {
		t.Errorf("not a sha: err = %v", err)
	}
}

// TestIsAncestorParentOfSnapshot: with the new commit's snapshot stored,
// its parent is its ancestor without a fetch (depth -1); a
// commit further back still takes one.
func TestIsAncestorParentOfSnapshot(t *testing.T) {
	r := testkit.NewRepo(t)
	grand := emptyCommits(r, 2)
	parent := emptyCommits(r, 1)
	new := emptyCommits(r, 1)
	bare := r.Bare()
	s := ancestrySource(t, bare)
	if _, err := s.Checkout(t.Context(), Revision{Ref: "main", Commit: new}); err != nil {
		t.Fatal(err)
	}
	got, depth, err := s.ancestry(t.Context(), parent, new)
	if err != nil || !got || depth != -1 {
		t.Errorf("parent: %v at depth %d, %v; want true without a fetch", got, depth, err)
	}
	got, depth, err = s.ancestry(t.Context(), grand, new)
	if err != nil || !got || depth != 16 {
		t.Errorf("grandparent: %v at depth %d, %v; want true at depth 16", got, depth, err)
	}
}
