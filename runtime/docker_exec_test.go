package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
)

// TestDockerExec: a hook's command runs in the container as its user, in
// its working directory, with its environment added to the container's,
// and what it prints comes back, cut to its last ExecOutputMax bytes.
func TestDockerExec(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	unrelated := testkit.Unrelated(t, stack)
	id := create(t, d, stack, "web", 1, reconcile.ContainerSpec{Image: testkit.TestImage(t), Env: []string{"FROM_SPEC=1", "DROPPED=x"}})

	res, err := d.Exec(t.Context(), id, reconcile.Hook{
		Command:    []string{"/testapp", "env", "FROM_SPEC", "FROM_HOOK", "DROPPED"},
		User:       "1234",
		WorkingDir: "/tmp",
		Env:        []string{"FROM_HOOK=2", "DROPPED"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "FROM_SPEC=1\nFROM_HOOK=2\nDROPPED=\nuid=1234 pwd=/tmp\n"
	if res.ExitCode != 0 || res.Output != want {
		t.Errorf("exec = %+v, want exit 0 and output %q", res, want)
	}

	long := strings.Repeat("x", 3*reconcile.ExecOutputMax) + "END"
	res, err = d.Exec(t.Context(), id, reconcile.Hook{Command: []string{"/testapp", "exit", "7", long}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 7 || len(res.Output) != reconcile.ExecOutputMax || !strings.HasSuffix(res.Output, "xEND\n") {
		t.Errorf("exec of a long output: exit %d, %d bytes ending %q; want exit 7 and the last %d bytes", res.ExitCode, len(res.Output), res.Output[max(0, len(res.Output)-8):], reconcile.ExecOutputMax)
	}

	// A command the engine cannot start is an exit code (126, 127) or an
	// error, never a success.
	res, err = d.Exec(t.Context(), id, reconcile.Hook{Command: []string{"/no-such-binary"}})
	if err == nil && res.ExitCode == 0 {
		t.Errorf("exec of a missing binary succeeded: %+v", res)
	}
	t.Logf("exec of a missing binary: %+v, %v", res, err)
	// A command that never ends holds the exec no longer than its
	// context: the hammer of a port nothing listens on runs until stopped.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	started := time.Now()
	_, err = d.Exec(ctx, id, reconcile.Hook{Command: []string{"/testapp", "hammer", "http://127.0.0.1:1/"}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(started) > 10*time.Second {
		t.Errorf("exec of an endless command = %v after %s, want the deadline at once", err, time.Since(started))
	}
	testkit.AssertAlive(t, unrelated)
}
