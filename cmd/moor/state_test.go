package main

import (
	"bytes"
	"errors"
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
