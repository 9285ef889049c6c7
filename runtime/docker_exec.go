package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/reconcile"
)

// Exec runs hook's command in the running container id, as docker compose
// runs a lifecycle hook: an exec created with the hook's user, privileges,
// working directory and environment, started attached (API 1.41: create,
// start, inspect), its output read to the end and kept to its last
// reconcile.ExecOutputMax bytes, and its exit code inspected once it
// stopped running. When ctx is done it returns at once; the command may
// run on in the container (the engine has no call to stop an exec).
func (d *Docker) Exec(ctx context.Context, id string, hook reconcile.Hook) (reconcile.ExecResult, error) {
	d.call()
	created, err := d.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		User:         hook.User,
		Privileged:   hook.Privileged,
		Env:          hook.Env,
		WorkingDir:   hook.WorkingDir,
		Cmd:          hook.Command,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return reconcile.ExecResult{}, fmt.Errorf("exec in container %s: %w", id, classify(err))
	}
	d.call()
	att, err := d.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return reconcile.ExecResult{}, fmt.Errorf("exec in container %s: start: %w", id, classify(err))
	}
	// The attached stream does not end with ctx: closing it does.
	stop := context.AfterFunc(ctx, att.Close)
	out := &tail{max: reconcile.ExecOutputMax}
	_, err = stdcopy.StdCopy(out, out, att.Reader)
	stop()
	att.Close()
	if ctx.Err() != nil {
		return reconcile.ExecResult{Output: out.String()}, fmt.Errorf("exec in container %s: %w", id, ctx.Err())
	}
	if err != nil {
		return reconcile.ExecResult{Output: out.String()}, fmt.Errorf("exec in container %s: read output: %w", id, err)
	}
	// The stream ends when the command does; the engine may record its
	// exit a moment later.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		d.call()
		res, err := d.cli.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return reconcile.ExecResult{Output: out.String()}, fmt.Errorf("exec in container %s: inspect: %w", id, classify(err))
		}
		if !res.Running {
			return reconcile.ExecResult{ExitCode: res.ExitCode, Output: out.String()}, nil
		}
		select {
		case <-ctx.Done():
			return reconcile.ExecResult{Output: out.String()}, fmt.Errorf("exec in container %s: %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.buf) }
