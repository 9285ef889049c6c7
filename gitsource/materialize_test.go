package gitsource_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckoutRefusesHostileTrees: a tree crafted with git mktree (which
// git itself would refuse to check out) cannot write outside the snapshot
// or into a ".git".
func TestCheckoutRefusesHostileTrees(t *testing.T) {
	for _, name := range []string{"..", ".git", ".GIT"} {
		t.Run(name, func(t *testing.T) {
			r, _ := newOrigin(t)
			mktree := func(entries string) string {
				cmd := exec.Command("git", "mktree")
				cmd.Dir, cmd.Stdin = r.Dir, strings.NewReader(entries)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("git mktree: %v", err)
				}
				return strings.TrimSpace(string(out))
			}
			blob := r.Git("hash-object", "-w", "--stdin", "--path", "x")
			inner := mktree(fmt.Sprintf("100644 blob %s\tescaped\n", blob))
			top := mktree(fmt.Sprintf("040000 tree %s\t%s\n", inner, name))
			commit := r.Git("commit-tree", top, "-m", "hostile", "-p", "HEAD")
			r.Git("update-ref", "refs/heads/main", commit)
			s := newSource(t, r.Bare(), "main")
			rev, err := s.Resolve(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Checkout(t.Context(), rev)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("checkout of a tree with %q: %v, want a refusal", name, err)
			}
			if _, err := os.Stat(filepath.Join(s.Dir, "escaped")); err == nil {
				t.Fatal("a file escaped the snapshot")
			}
		})
	}
}
