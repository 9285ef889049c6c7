package runtime

import (
	"context"
	"fmt"
	"strings"

	"github.com/moor-dev/moor/reconcile"
)

// Exec runs a command in a running container: it exits 0 with no output,
// or as ExecExits said for that command. Not running is ErrConflict. The
// journal line names the container and the command.
func (f *Fake) Exec(ctx context.Context, id string, hook reconcile.Hook) (_ reconcile.ExecResult, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cmd := strings.Join(hook.Command, " ")
	defer f.journal(&err, "Exec", f.label(id)+": "+cmd)
	if err := f.begin("Exec", f.subjects(id)...); err != nil {
		return reconcile.ExecResult{}, fmt.Errorf("exec in container %s: %w", id, err)
	}
	c := f.find(id)
	if c == nil {
		return reconcile.ExecResult{}, fmt.Errorf("exec in container %s: %w", id, notFound("no such container: %s", id))
	}
	if c.state != reconcile.StateRunning {
		return reconcile.ExecResult{}, fmt.Errorf("exec in container %s: %w", id, conflict("container %s is not running", id))
	}
	return f.execExits[cmd], nil
}

// ExecExits makes every Exec of command (its words joined by spaces) exit
// with code and print output.
func (f *Fake) ExecExits(command string, code int, output string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.execExits == nil {
		f.execExits = map[string]reconcile.ExecResult{}
	}
	f.execExits[command] = reconcile.ExecResult{ExitCode: code, Output: output}
}
