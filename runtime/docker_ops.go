package runtime

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/reconcile"
)

// StartContainer starts a container; a running one is success (the engine
// answers 304).
func (d *Docker) StartContainer(ctx context.Context, id string) error {
	d.call()
	if _, err := d.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", id, classify(err))
	}
	return nil
}

// StopContainer stops a container within grace (nil: its own stop timeout);
// a stopped one is success.
func (d *Docker) StopContainer(ctx context.Context, id string, grace *time.Duration) error {
	var opts client.ContainerStopOptions
	if grace != nil {
		secs := graceSeconds(*grace)
		opts.Timeout = &secs
	}
	d.call()
	if _, err := d.cli.ContainerStop(ctx, id, opts); err != nil {
		return fmt.Errorf("stop container %s: %w", id, classify(err))
	}
	return nil
}

// RemoveContainer force-removes a container with its anonymous volumes (the
// engine never removes named ones with a container). An absent container,
// or one whose removal is already under way, is success.
func (d *Docker) RemoveContainer(ctx context.Context, id string) error {
	d.call()
	_, err := d.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("remove container %s: %w", id, classify(err))
	}
	return nil
}

// RenameContainer renames a container. A container that already has the
// name is success (the engine refuses that rename, but a repeated rename
// must not fail); a name another container holds is ErrConflict.
func (d *Docker) RenameContainer(ctx context.Context, id, name string) error {
	d.call()
	_, err := d.cli.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: name})
	if err == nil {
		return nil
	}
	if cerrdefs.IsInvalidArgument(err) {
		if c, ierr := d.InspectContainer(ctx, id); ierr == nil && c.Name == name {
			return nil
		}
	}
	return fmt.Errorf("rename container %s to %s: %w", id, name, classify(err))
}

// InspectContainer returns one container's current state with ExitCode and
// Health exact.
func (d *Docker) InspectContainer(ctx context.Context, id string) (reconcile.Container, error) {
	d.call()
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return reconcile.Container{}, fmt.Errorf("inspect container %s: %w", id, classify(err))
	}
	return fromInspect(res.Container), nil
}

// Logs returns the last n lines (all for n <= 0) of the container's stdout
// and stderr, interleaved as written, at most their last MaxLogBytes.
func (d *Docker) Logs(ctx context.Context, id string, n int) (string, error) {
	// Whether the stream is multiplexed depends on the container's TTY.
	d.call()
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("logs of container %s: %w", id, classify(err))
	}
	tty := res.Container.Config != nil && res.Container.Config.Tty
	tail := "all"
	if n > 0 {
		tail = strconv.Itoa(n)
	}
	d.call()
	rc, err := d.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: tail})
	if err != nil {
		return "", fmt.Errorf("logs of container %s: %w", id, classify(err))
	}
	defer rc.Close()
	out := &tailBuffer{max: reconcile.MaxLogBytes}
	if tty {
		_, err = io.Copy(out, rc)
	} else {
		_, err = stdcopy.StdCopy(out, out, rc)
	}
	if err != nil {
		return out.String(), fmt.Errorf("logs of container %s: %w", id, err)
	}
	return out.String(), nil
}

// tailBuffer keeps the last max bytes written to it, in at most twice
// that much memory.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	if len(t.buf)+len(p) > 2*t.max {
		keep := t.max - len(p)
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-keep:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string {
	if len(t.buf) > t.max {
		return string(t.buf[len(t.buf)-t.max:])
	}
	return string(t.buf)
}
