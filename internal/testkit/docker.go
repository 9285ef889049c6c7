// Package testkit is the harness of moor's integration tests: a client for
// the real Docker Engine, the test app image (a static Go binary in a FROM
// scratch image, see internal/testapp), a throwaway registry on 127.0.0.1,
// per-test stack names with cleanup by label, an unrelated container that
// must survive, polling helpers, real git repositories in temp dirs, and a
// flood of hostile HTTP clients (Flood).
//
// It is imported only from tests. Everything it creates is removed at test
// cleanup, except the cached test app images (moor-testapp:<hash> and
// moor-testapp-variant:<name>-<hash>), which are keyed by the binary's hash
// and reused across runs.
//
// Without a Docker Engine (or the docker-registry binary) the tests that need
// one are skipped locally and fail when the CI environment variable is set.
package testkit

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/reconcile"
)

// LabelOwner marks resources a test made outside any stack (the unrelated
// container), so that CleanupStack finds them without them looking owned by
// moor.
const LabelOwner = "moor.test.owner"

var docker struct {
	once sync.Once
	cli  *client.Client
	err  error
}

// Docker returns a client for the engine found the way the docker CLI finds it
// (DOCKER_HOST and friends, else the default socket), with the API version
// negotiated down to the engine's. The client is shared by the whole test
// process and must not be closed. Without a reachable engine the test is
// skipped, or fails when the CI environment variable is non-empty.
func Docker(t testing.TB) *client.Client {
	t.Helper()
	docker.once.Do(func() {
		cli, err := client.New(client.FromEnv)
		if err != nil {
			docker.err = fmt.Errorf("docker client: %w", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
			cli.Close()
			docker.err = fmt.Errorf("ping docker engine at %s: %w", cli.DaemonHost(), err)
			return
		}
		docker.cli = cli
	})
	if docker.err != nil {
		skipOrFail(t, docker.err)
	}
	return docker.cli
}

// skipOrFail skips the test for a missing prerequisite, except under CI where
// the prerequisite must be there.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and a prerequisite is missing: %v", err)
	}
	t.Skipf("skipping: %v", err)
}

// Unrelated starts a long-running container of the test image that carries
// no moor.stack label (only LabelOwner=owner, for cleanup), the bystander
// that moor must never touch. It is removed at cleanup; its ID is returned.
func Unrelated(t testing.TB, owner string) string {
	t.Helper()
	cli := Docker(t)
	img := TestImage(t)
	ctx := t.Context()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: img, Labels: map[string]string{LabelOwner: owner}},
	})
	if err != nil {
		t.Fatalf("create unrelated container for %s: %v", owner, err)
	}
	t.Cleanup(func() { removeContainer(t, created.ID) })
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start unrelated container %s: %v", created.ID, err)
	}
	return created.ID
}

// RunByHand starts a long-running container named name from image as
// `docker run --name` would: no labels but the image's and LabelOwner=owner
// (for cleanup). It is removed at cleanup; its ID is returned.
func RunByHand(t testing.TB, owner, name, image string) string {
	t.Helper()
	cli := Docker(t)
	ctx := t.Context()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   name,
		Config: &container.Config{Image: image, Labels: map[string]string{LabelOwner: owner}},
	})
	if err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
	t.Cleanup(func() { removeContainer(t, created.ID) })
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start container %s: %v", name, err)
	}
	return created.ID
}

// AssertAlive fails the test unless container id still exists, is running and
// has not been restarted: moor left it alone.
func AssertAlive(t testing.TB, id string) {
	t.Helper()
	res, err := Docker(t).ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("unrelated container %s: %v", short(id), err)
	}
	c := res.Container
	switch {
	case c.ID != id:
		t.Fatalf("unrelated container: inspect %s returned ID %s", short(id), short(c.ID))
	case c.State == nil || !c.State.Running:
		t.Fatalf("unrelated container %s is not running (state %+v)", short(id), c.State)
	case c.RestartCount != 0:
		t.Fatalf("unrelated container %s was restarted %d times", short(id), c.RestartCount)
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// CleanupStack removes every container, then network, then volume labelled
// moor.stack=stack, moor.test.owner=stack or com.docker.compose.project=stack
// (what docker compose made of the stack), now (leftovers of a crashed run)
// and again at cleanup.
func CleanupStack(t testing.TB, stack string) {
	t.Helper()
	cli := Docker(t)
	removeStack(t, cli, stack)
	t.Cleanup(func() { removeStack(t, cli, stack) })
}

func removeStack(t testing.TB, cli *client.Client, stack string) {
	t.Helper()
	// Cleanup runs after t.Context is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, label := range []string{reconcile.LabelStack, LabelOwner, reconcile.LabelComposeProject} {
		f := make(client.Filters).Add("label", label+"="+stack)
		cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			t.Errorf("cleanup %s: list containers: %v", stack, err)
			return
		}
		for _, c := range cs.Items {
			removeContainer(t, c.ID)
		}
	}
	for _, label := range []string{reconcile.LabelStack, LabelOwner, reconcile.LabelComposeProject} {
		f := make(client.Filters).Add("label", label+"="+stack)
		ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			t.Errorf("cleanup %s: list networks: %v", stack, err)
			return
		}
		for _, n := range ns.Items {
			// The engine may release a removed container's endpoint a
			// moment after the remove returns: ask again until it has.
			var err error
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				_, err = cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
				if err == nil || isNotFound(err) || !strings.Contains(err.Error(), "active endpoints") || time.Now().After(deadline) {
					break
				}
			}
			switch {
			case err == nil || isNotFound(err):
			case strings.Contains(err.Error(), "active endpoints"):
				// The stack's containers are gone (removed above), yet
				// for ten seconds the engine has kept an endpoint: one it
				// leaked (seen on Docker 20.10 after a client was killed
				// mid-connect), which only a restart of the engine frees.
				t.Logf("cleanup %s: network %s keeps an endpoint no container holds: %v", stack, n.Name, err)
			default:
				t.Errorf("cleanup %s: remove network %s: %v", stack, n.Name, err)
			}
		}
	}
	for _, label := range []string{reconcile.LabelStack, LabelOwner, reconcile.LabelComposeProject} {
		f := make(client.Filters).Add("label", label+"="+stack)
		vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
		if err != nil {
			t.Errorf("cleanup %s: list volumes: %v", stack, err)
			return
		}
		for _, v := range vs.Items {
			if _, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
				t.Errorf("cleanup %s: remove volume %s: %v", stack, v.Name, err)
			}
		}
	}
}

// removeContainer force-removes a container and its anonymous volumes; a
// container that is already gone is fine.
func removeContainer(t testing.TB, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Docker(t).ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) && !isConflict(err) {
		t.Errorf("remove container %s: %v", short(id), err)
	}
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// isConflict reports a removal already in progress, which ends the same way.
func isConflict(err error) bool { return cerrdefs.IsConflict(err) }
