package testkit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Repo is a real git repository (non-bare, branch main) in a temp dir,
// driven with the git binary. The machine's git config does not apply.
type Repo struct {
	// Dir is the working tree.
	Dir  string
	t    testing.TB
	bare string // path of the bare clone, once Bare was called
}

// NewRepo makes an empty repository with branch main in t.TempDir().
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		skipOrFail(t, err)
	}
	r := &Repo{Dir: t.TempDir(), t: t}
	r.Git("init", "--quiet", "--initial-branch=main")
	return r
}

// Git runs git with args in r.Dir, fails the test on error and returns the
// trimmed stdout.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return runGit(r.t, r.Dir, args...)
}

func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	full := append([]string{
		"-c", "user.name=moor test",
		"-c", "user.email=test@moor.invalid",
		"-c", "commit.gpgsign=false",
		"-c", "protocol.file.allow=always",
	}, args...)
	cmd := exec.Command("git", full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s in %s: %v\n%s%s", strings.Join(args, " "), dir, err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// Write writes content to path (slash-separated, relative to the working
// tree), creating parent directories.
func (r *Repo) Write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatalf("repo write %s: %v", path, err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatalf("repo write %s: %v", path, err)
	}
}

// Remove deletes the file or directory path from the working tree.
func (r *Repo) Remove(path string) {
	r.t.Helper()
	if err := os.RemoveAll(filepath.Join(r.Dir, filepath.FromSlash(path))); err != nil {
		r.t.Fatalf("repo remove %s: %v", path, err)
	}
}

// Commit stages every change (git add -A), commits it with msg and returns
// the new head's full sha. Committing nothing fails the test.
func (r *Repo) Commit(msg string) string {
	r.t.Helper()
	r.Git("add", "-A")
	r.Git("commit", "--quiet", "-m", msg)
	return r.Head()
}

// Revert commits the revert of sha and returns the new head's full sha.
func (r *Repo) Revert(sha string) string {
	r.t.Helper()
	r.Git("revert", "--no-edit", sha)
	return r.Head()
}

// Head returns the full sha of HEAD.
func (r *Repo) Head() string {
	r.t.Helper()
	return r.Git("rev-parse", "HEAD")
}

// Bare returns the file:// URL of a bare clone of r (made on the first
// call, from r's current state), the remote a controller under test clones.
// Later commits reach it through Push.
func (r *Repo) Bare() string {
	r.t.Helper()
	if r.bare == "" {
		r.bare = filepath.Join(r.t.TempDir(), "remote.git")
		runGit(r.t, r.Dir, "clone", "--quiet", "--bare", r.Dir, r.bare)
	}
	return "file://" + filepath.ToSlash(r.bare)
}

// Push makes main of the bare clone equal to r's main (forced, so tests can
// rewrite history).
func (r *Repo) Push() {
	r.t.Helper()
	r.Bare()
	r.Git("push", "--quiet", "--force", r.bare, "main:main")
}
