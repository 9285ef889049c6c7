package gitsource

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"

	"github.com/moor-dev/moor/internal/testkit"
)

func TestFileTransportChoice(t *testing.T) {
	tests := []struct {
		found     []string
		inProcess bool
	}{
		{[]string{"git-upload-pack", "git"}, false},
		{[]string{"git-upload-pack"}, false},
		{[]string{"git"}, false}, // go-git finds git-upload-pack through `git --exec-path`
		{nil, true},
	}
	for _, tt := range tests {
		lookPath := func(bin string) (string, error) {
			for _, f := range tt.found {
				if f == bin {
					return "/usr/bin/" + bin, nil
				}
			}
			return "", exec.ErrNotFound
		}
		got := fileTransport(lookPath)
		if _, ok := got.(inProcessFile); ok != tt.inProcess || (!tt.inProcess && got != nil) {
			t.Errorf("with %v on PATH: transport %T, want in-process %v", tt.found, got, tt.inProcess)
		}
	}
}

// useInProcessFile serves "file" in process for the rest of the test.
func useInProcessFile(t *testing.T) {
	prev := client.Protocols["file"]
	client.InstallProtocol("file", inProcessFile{})
	t.Cleanup(func() { client.InstallProtocol("file", prev) })
}

// fileRepo is a working tree with three commits on main, an annotated tag
// v3 on the last, a lightweight tag v1 on the first, and a bare clone.
type fileRepo struct {
	r                *testkit.Repo
	bare             string // file:// URL
	first, head, tag string // tag: the v3 tag object
}

func newFileRepo(t *testing.T) fileRepo {
	r := threeCommits(t) // v3: annotated, on the head
	first := r.Git("rev-list", "--max-parents=0", "HEAD")
	r.Git("tag", "v1", first)
	return fileRepo{r: r, bare: r.Bare(), first: first, head: r.Head(), tag: r.Git("rev-parse", "v3")}
}

// checkFileSource resolves and checks out every ref of f through url and
// fails unless each gives the right commit and files.
func checkFileSource(t *testing.T, f fileRepo, url string) {
	t.Helper()
	for ref, want := range map[string]string{"main": f.head, "v3": f.head, "v1": f.first, f.first: f.first} {
		s := &Source{URL: url, Ref: ref, Dir: filepath.Join(t.TempDir(), "state")}
		t.Cleanup(func() { s.Prune(nil) })
		rev, err := s.Resolve(t.Context())
		if err != nil {
			t.Fatalf("%s of %s: %v", ref, url, err)
		}
		// The server advertises no peeled tags of its own: without them
		// Resolve would give the tag object, and every poll would fetch.
		if rev.Commit != want {
			t.Errorf("Resolve %s of %s = %s, want %s (the tag object is %s)", ref, url, rev.Commit, want, f.tag)
		}
		snap, err := s.Checkout(t.Context(), rev)
		if err != nil {
			t.Fatalf("checkout %s of %s: %v", ref, url, err)
		}
		content, err := os.ReadFile(filepath.Join(snap.Dir, "f"))
		if snap.Revision.Commit != want || err != nil {
			t.Errorf("checkout %s of %s: commit %s, file f: %q %v; want %s", ref, url, snap.Revision.Commit, content, err, want)
		}
		if wantContent := map[string]string{f.head: "3", f.first: "1"}[want]; string(content) != wantContent {
			t.Errorf("checkout %s of %s: f holds %q, want %q", ref, url, content, wantContent)
		}
	}
}

// TestInProcessFile: without git-upload-pack, local working trees and bare
// repositories are served in process, branches, tags and commits alike; a
// shallow fetch falls back to fetching the history.
func TestInProcessFile(t *testing.T) {
	f := newFileRepo(t)
	useInProcessFile(t)
	for _, url := range []string{f.r.Dir, f.bare} {
		checkFileSource(t, f, url)
	}

	s := &Source{URL: f.r.Dir, Ref: "main"}
	commit, n, shallow := fetchDepth(t, s, Revision{Ref: "main", Commit: f.head})
	if commit != f.head || n != 3 || shallow != 0 {
		t.Errorf("fetch main: commit %s, %d commits, %d shallow; want %s, all 3 (shallow refused, full fetch), 0", commit, n, shallow, f.head)
	}

	missing := filepath.Join(t.TempDir(), "no-such-repo")
	_, err := (&Source{URL: missing}).Resolve(t.Context())
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, transport.ErrRepositoryNotFound) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing path: err = %v, want ErrUnreachable and ErrRepositoryNotFound naming %s", err, missing)
	}
	empty := testkit.NewRepo(t)
	if _, err := (&Source{URL: empty.Dir}).Resolve(t.Context()); !errors.Is(err, ErrRefNotFound) {
		t.Errorf("empty repository: err = %v, want ErrRefNotFound", err)
	}
	if _, err := (inProcessFile{}).NewReceivePackSession(&transport.Endpoint{Protocol: "file", Path: f.bare}, nil); err == nil {
		t.Errorf("push through the in-process transport was accepted")
	}
}

// envNoGit carries the repository to TestNoGitChild: "dir|bare|head|first".
const envNoGit = "MOOR_TEST_NOGIT_REPO"

// TestNoGitOnPath runs TestNoGitChild in a process whose PATH is empty, as
// in moor's image: the first use of a source must choose the in-process
// transport, and local sources must resolve and check out through it.
func TestNoGitOnPath(t *testing.T) {
	f := newFileRepo(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoGitChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "PATH=", envNoGit+"="+strings.Join([]string{f.r.Dir, f.bare, f.head, f.first, f.tag}, "|"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNoGitChild") {
		t.Fatalf("child without git on PATH: %v\n%s", err, out)
	}
}

func TestNoGitChild(t *testing.T) {
	v := os.Getenv(envNoGit)
	if v == "" {
		t.Skip("run by TestNoGitOnPath")
	}
	if _, err := exec.LookPath("git"); err == nil {
		t.Fatalf("git is on PATH %q in the child", os.Getenv("PATH"))
	}
	installTransports()
	if _, ok := client.Protocols["file"].(inProcessFile); !ok {
		t.Fatalf("file transport is %T, want inProcessFile", client.Protocols["file"])
	}
	p := strings.Split(v, "|")
	f := fileRepo{bare: p[1], head: p[2], first: p[3], tag: p[4]}
	for _, url := range []string{p[0], f.bare} {
		checkFileSource(t, f, url)
	}
}
