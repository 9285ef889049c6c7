package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
)

// forged marks the text a hostile repository tries to pass for lines of
// moor's output.
const forged = "#99 forged"

// assertEscaped fails the test if out holds a control character a
// terminal acts on, or a line that starts with forged text.
func assertEscaped(t *testing.T, what, out string) {
	t.Helper()
	if i := strings.IndexAny(out, "\x1b\x07\r\u009b"); i >= 0 {
		t.Errorf("%s prints a raw control character %q:\n%s", what, out[i], out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), forged) {
			t.Errorf("%s prints a forged line %q:\n%s", what, line, out)
		}
	}
}

// TestRepositoryTextEscaped: a commit whose author and subject hold
// terminal escapes and forged lines, and a compose file whose key does,
// are printed escaped by apply, plan, history, status and the log; the
// ledger keeps the author and subject as they are.
func TestRepositoryTextEscaped(t *testing.T) {
	testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", oneService(img, "1"))
	// git drops the line break of a name; the escape stays.
	author := "Mal\x1b[31mlory\n" + forged + " author"
	subject := "fix \x1b[2J\x1b]0;pwned\x07 things\r" + forged + " subject\u009b31m"
	repo.Git("add", "-A")
	repo.Git("commit", "--quiet", "--author", author+" <m@example.com>", "-m", subject+"\n\nbody\n"+forged+" body")
	m := newMoor(t, repo.Dir, stack)

	_, out := m.run("plan")
	assertEscaped(t, "moor plan", out)
	if !strings.Contains(out, `"fix \x1b[2J\x1b]0;pwned\x07 things\r`+forged+` subject\u009b31m" by Mal\x1b[31mlory`+forged+" author") {
		t.Errorf("moor plan does not show the subject and author escaped:\n%s", out)
	}
	out = m.mustApply()
	assertEscaped(t, "moor apply", out)
	_, out = m.run("status")
	assertEscaped(t, "moor status", out)
	if !strings.Contains(out, `"fix \x1b[2J\x1b]0;pwned\x07 things\r`+forged+` subject\u009b31m"`) {
		t.Errorf("status does not show the subject escaped:\n%s", out)
	}

	// The ledger keeps them as they are.
	b, err := os.ReadFile(filepath.Join(m.stateDir, "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var rec ledger.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if wantAuthor := strings.ReplaceAll(author, "\n", ""); rec.Subject != subject || rec.Author != wantAuthor {
		t.Errorf("ledger: subject %q by %q, want %q by %q", rec.Subject, rec.Author, subject, wantAuthor)
	}

	// A compose key with an escape and a line break, quoted by the error
	// of its stack.
	repo.Write("bad/compose.yaml", "services:\n  app:\n    image: "+img+"\n    \"imagez\\e[31m\\n"+forged+" key\": 1\n")
	repo.Commit("a key with a line break")
	code, out := m.run("apply")
	if code == 0 || !strings.Contains(out, `imagez\x1b[31m\n`+forged) {
		t.Errorf("apply of a broken stack: exit %d, want its error with the key escaped:\n%s", code, out)
	}
	assertEscaped(t, "moor apply of a broken stack", out)
	code, stdout, stderr := runBinary(t, "apply", "--repo", repo.Dir, "--name", stack, "--state-dir", m.stateDir, "--log-level", "debug")
	if code == 0 {
		t.Errorf("apply of a broken stack as a process: exit 0")
	}
	assertEscaped(t, "the output and log of moor apply", stdout+stderr)
	for _, args := range [][]string{{"plan"}, {"history"}, {"status"}} {
		_, out := m.run(args...)
		assertEscaped(t, "moor "+args[0], out)
		if !strings.Contains(out, `imagez\x1b[31m\n`+forged) && args[0] != "status" {
			t.Errorf("moor %s does not show the broken stack's key escaped:\n%s", args[0], out)
		}
	}
	if _, out := m.run("history"); !strings.Contains(out, `by Mal\x1b[31mlory`) {
		t.Errorf("history does not show the author escaped:\n%s", out)
	}
	if _, out := m.run("status"); !strings.Contains(out, `imagez\x1b[31m\n`+forged) {
		t.Errorf("status does not show the error escaped:\n%s", out)
	}
}
