package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/reconcile"
)

// Docker is reconcile.Runtime on a Docker Engine (API 1.41 and up). It is
// safe for concurrent use.
type Docker struct {
	cli   *client.Client
	calls atomic.Int64
}

var _ reconcile.Runtime = (*Docker)(nil)

// pingTimeout bounds the first contact with the engine.
const pingTimeout = 10 * time.Second

// NewDocker connects to the engine the way the docker CLI finds it
// (DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY, else
// the default socket), pings it and negotiates the API version down to the
// engine's.
func NewDocker(ctx context.Context) (*Docker, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	d := &Docker{cli: cli}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	d.calls.Add(1)
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker engine at %s: %w", cli.DaemonHost(), fault.Mark(fault.ErrEngineUnavailable, err))
	}
	return d, nil
}

// Close releases the client's connections.
func (d *Docker) Close() error { return d.cli.Close() }

// Calls returns how many Engine API calls d has made, so that benchmarks
// can hold a run to one list call per kind.
func (d *Docker) Calls() int64 { return d.calls.Load() }

// call counts one Engine API call.
func (d *Docker) call() { d.calls.Add(1) }

// classified is an engine error that also matches one of reconcile's error
// kinds with errors.Is, keeping the engine's message.
type classified struct {
	kind error
	err  error
}

func (e classified) Error() string   { return e.err.Error() }
func (e classified) Unwrap() []error { return []error{e.kind, e.err} }

// classify maps the engine's not-found and conflict errors onto
// reconcile.ErrNotFound and reconcile.ErrConflict, and an engine that does
// not answer onto fault.ErrEngineUnavailable.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, reconcile.ErrNotFound), errors.Is(err, reconcile.ErrConflict), errors.Is(err, fault.ErrEngineUnavailable):
		return err
	case client.IsErrConnectionFailed(err):
		return fault.Mark(fault.ErrEngineUnavailable, err)
	case cerrdefs.IsNotFound(err):
		return classified{reconcile.ErrNotFound, err}
	case cerrdefs.IsConflict(err):
		return classified{reconcile.ErrConflict, err}
	}
	return err
}
