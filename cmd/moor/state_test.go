package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// oneService is a stack of one long-running service of the test image.
func oneService(img, version string) string {
	return "services:\n  app:\n    image: " + img + "\n    environment:\n      VERSION: \"" + version + "\"\n    restart: unless-stopped\n"
}

// runBinary runs the moor binary, for what only a process shows: its log.
func runBinary(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	bin, err := buildMoor()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	t.Logf("moor %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// TestCorruptLedger damages the ledger by hand at its start, in the middle
// and at its end: history still shows every readable apply and names the
// damaged lines, apply and a process's log go on, and nothing of the
// damage is removed from the file.
func TestCorruptLedger(t *testing.T) {
	testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	repo.Write(stack+"/compose.yaml", oneService(img, "1"))
	repo.Commit("first of all")
	m.mustApply()
	repo.Write(stack+"/compose.yaml", oneService(img, "2"))
	repo.Commit("second of all")
	m.mustApply()

	path := filepath.Join(m.stateDir, "ledger.jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := strings.SplitAfter(string(b), "\n")
	if len(recs) != 3 || recs[2] != "" {
		t.Fatalf("ledger after two applies:\n%s", b)
	}
	damaged := "garbage from an editor\n" + recs[0] + `{"seq":2,"sou` + "\n" + recs[1] + `{"seq":3,"torn`
	if err := os.WriteFile(path, []byte(damaged), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out := m.run("history")
	if code != 0 {
		t.Fatalf("history of a damaged ledger: exit %d\n%s", code, out)
	}
	for _, want := range []string{"first of all", "second of all", "line 1 (", "line 3 (", "line 5 (", "torn", "not a record"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}
	if code, out := m.run("history", "--json"); code != 0 || !strings.Contains(out, "line 3 (") {
		t.Errorf("history --json of a damaged ledger: exit %d\n%s", code, out)
	}

	// An apply goes on, and logs the damage once.
	repo.Write(stack+"/compose.yaml", oneService(img, "3"))
	repo.Commit("third of all")
	code, stdout, stderr := runBinary(t, "apply", "--repo", repo.Dir, "--name", stack, "--state-dir", m.stateDir)
	if code != 0 {
		t.Fatalf("apply with a damaged ledger: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "not records"); n != 1 {
		t.Errorf("the log names the damage %d times, want once:\n%s", n, stderr)
	}
	if _, out := m.run("history"); !strings.Contains(out, "third of all") {
		t.Errorf("history lacks the apply after the damage:\n%s", out)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(after), damaged+"\n") {
		t.Errorf("the damaged lines were not kept as they were:\n%s", after)
	}
}

// TestStatusWithDamagedSource: the status file of one source is damaged;
// moor status names the problem in that source's place and shows the
// other source as usual.
func TestStatusWithDamagedSource(t *testing.T) {
	testkit.Docker(t)
	img := testkit.TestImage(t)
	var ms []*moor
	for _, suffix := range []string{"a", "b"} {
		stack := testkit.StackName(t) + suffix
		testkit.CleanupStack(t, stack)
		repo := testkit.NewRepo(t)
		repo.Write(stack+"/compose.yaml", oneService(img, "1"))
		repo.Commit("deploy " + suffix)
		m := newMoor(t, repo.Dir, stack)
		if len(ms) > 0 {
			m.stateDir = ms[0].stateDir
		}
		m.mustApply()
		ms = append(ms, m)
	}
	damaged, whole := ms[0], ms[1]
	path := filepath.Join(damaged.stateDir, "sources", damaged.source, "status.json")
	if err := os.WriteFile(path, []byte(`{"source": "`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := whole.run("status")
	if code != 0 {
		t.Fatalf("status with a damaged source: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"source " + whole.source + "  " + whole.repo, whole.source + "/app", "in-sync",
		"source " + damaged.source + "\n  problem  " + path + ": unexpected end of JSON input",
		damaged.source + "/app",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

// TestStateDirMadePrivate: a state dir created beforehand open to every
// user is made private by the first apply, which says so once; everything
// moor writes under it is private or read-only, the snapshot's .env
// included.
func TestStateDirMadePrivate(t *testing.T) {
	testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", oneService(img, "${VERSION}"))
	repo.Write(stack+"/.env", "VERSION=secret-1\n")
	repo.Commit("a secret in .env")
	state := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}
	apply := func() string {
		t.Helper()
		code, stdout, stderr := runBinary(t, "apply", "--repo", repo.Dir, "--name", stack, "--state-dir", state)
		if code != 0 {
			t.Fatalf("apply: exit %d\n%s%s", code, stdout, stderr)
		}
		return stderr
	}
	if log := apply(); strings.Count(log, "made it private") != 1 || !strings.Contains(log, `"was": "0755"`) {
		t.Errorf("the log does not say once that the state dir was made private, and what it was:\n%s", log)
	}
	snapshots := filepath.Join(state, "sources", stack, "snapshots")
	env := 0
	err := filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(state, path)
		perm := fi.Mode().Perm()
		if filepath.Dir(path) == snapshots || strings.HasPrefix(path, snapshots+"/") && path != snapshots {
			// The snapshot itself: read-only, readable by the containers
			// that bind-mount it; the 0700 above keeps other users out.
			if perm&0o222 != 0 {
				t.Errorf("%s: mode %v, want read-only", rel, fi.Mode())
			}
			if d.Name() == ".env" {
				env++
			}
			return nil
		}
		if rel == "stacks" || strings.HasPrefix(rel, "stacks/") {
			// The stack directories: what git tracks keeps git's modes
			// (0644, 0755), for containers of any user to read what they
			// bind; the 0700 above keeps other users out.
			if perm&0o022 != 0 {
				t.Errorf("%s: mode %v, want writable by its owner only", rel, fi.Mode())
			}
			return nil
		}
		if perm&0o077 != 0 {
			t.Errorf("%s: mode %v, want private", rel, fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if env != 1 {
		t.Errorf("%d snapshot .env files, want 1", env)
	}
	repo.Write(stack+"/.env", "VERSION=secret-2\n")
	repo.Commit("another secret")
	if log := apply(); strings.Contains(log, "made it private") {
		t.Errorf("the second apply says again that the state dir was made private:\n%s", log)
	}
}

// TestStateDirOfAnotherUser: a state dir open to every user that belongs
// to another user is not changed, nor used: apply says why and what to do.
func TestStateDirOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	testkit.Docker(t)
	stack := testkit.StackName(t)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", oneService("nginx:1", "1"))
	repo.Commit("one")
	state := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	m := newMoor(t, repo.Dir, stack)
	m.stateDir = state
	code, out := m.run("apply")
	if code == 0 {
		t.Fatalf("apply with another user's open state dir: exit 0\n%s", out)
	}
	for _, want := range []string{state, "open to other users", "uid 65534", "chmod 700"} {
		if !strings.Contains(out, want) {
			t.Errorf("the error lacks %q:\n%s", want, out)
		}
	}
	if entries, err := os.ReadDir(state); err != nil || len(entries) > 0 {
		t.Errorf("moor wrote into the state dir it refused: %v %v", entries, err)
	}
}
