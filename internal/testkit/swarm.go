package testkit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

var swarmState struct {
	sync.Mutex
	checked bool
	// joined: this process ran swarm init, so LeaveSwarm leaves.
	joined bool
	// gwbridge: docker_gwbridge, the bridge init makes for the swarm's
	// containers, was there before init (leaving the swarm keeps it).
	gwbridge bool
	err      error
}

// Swarm makes sure the shared engine is a swarm manager, as `docker swarm
// init --advertise-addr 127.0.0.1` does when its swarm is inactive, and
// returns the client. The engine is left as found by LeaveSwarm, which the
// TestMain of the one package whose tests use Swarm must call: two
// packages must not init and leave the same engine's swarm concurrently.
// Entering or leaving swarm mode also breaks the engine's embedded DNS for
// a moment, failing other packages' tests that resolve a name just then:
// scripts/test enters swarm mode before any test runs, so that this finds
// a manager and leaves it be.
func Swarm(t testing.TB) *client.Client {
	t.Helper()
	cli := Docker(t)
	swarmState.Lock()
	defer swarmState.Unlock()
	if !swarmState.checked {
		swarmState.checked = true
		swarmState.err = initSwarm(cli)
	}
	if swarmState.err != nil {
		t.Fatalf("swarm: %v", swarmState.err)
	}
	return cli
}

func initSwarm(cli *client.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return err
	}
	switch sw := info.Info.Swarm; {
	case sw.LocalNodeState == swarm.LocalNodeStateActive && sw.ControlAvailable:
		return nil
	case sw.LocalNodeState != swarm.LocalNodeStateInactive:
		return fmt.Errorf("the engine's swarm is %s, not a manager: tests need a manager or no swarm", sw.LocalNodeState)
	}
	_, err = cli.NetworkInspect(ctx, "docker_gwbridge", client.NetworkInspectOptions{})
	swarmState.gwbridge = err == nil
	if _, err := cli.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: "127.0.0.1:2377", AdvertiseAddr: "127.0.0.1"}); err != nil {
		return fmt.Errorf("swarm init: %w", err)
	}
	swarmState.joined = true
	return nil
}

// LeaveSwarm leaves the swarm if Swarm initialised it (docker swarm leave
// --force), leaving the engine as the tests found it.
func LeaveSwarm() error {
	swarmState.Lock()
	defer swarmState.Unlock()
	if !swarmState.joined {
		return nil
	}
	swarmState.joined = false
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := docker.cli.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true}); err != nil {
		return err
	}
	if !swarmState.gwbridge {
		if _, err := docker.cli.NetworkRemove(ctx, "docker_gwbridge", client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// CleanupSwarmStack removes the services, then the configs, secrets,
// networks and this node's volumes labelled com.docker.stack.namespace=stack, now (leftovers of a
// crashed run) and again at cleanup.
func CleanupSwarmStack(t testing.TB, stack string) {
	t.Helper()
	cli := Swarm(t)
	removeSwarmStack(t, cli, stack)
	t.Cleanup(func() { removeSwarmStack(t, cli, stack) })
}

func removeSwarmStack(t testing.TB, cli *client.Client, stack string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := client.Filters{}.Add("label", "com.docker.stack.namespace="+stack)
	svcs, err := cli.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	if err != nil {
		t.Errorf("cleanup %s: list services: %v", stack, err)
		return
	}
	for _, s := range svcs.Items {
		if _, err := cli.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil && !isNotFound(err) {
			t.Errorf("cleanup %s: remove service %s: %v", stack, s.Spec.Name, err)
		}
	}
	// Tasks go away after their service: what they hold is freed then.
	for {
		left := 0
		if cs, err := cli.ConfigList(ctx, client.ConfigListOptions{Filters: f}); err == nil {
			for _, c := range cs.Items {
				if _, err := cli.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil && !isNotFound(err) {
					left++
				}
			}
		}
		if ss, err := cli.SecretList(ctx, client.SecretListOptions{Filters: f}); err == nil {
			for _, s := range ss.Items {
				if _, err := cli.SecretRemove(ctx, s.ID, client.SecretRemoveOptions{}); err != nil && !isNotFound(err) {
					left++
				}
			}
		}
		if ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f}); err == nil {
			for _, n := range ns.Items {
				if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
					left++
				}
			}
		}
		if vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f}); err == nil {
			for _, v := range vs.Items {
				if _, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{}); err != nil && !isNotFound(err) {
					left++
				}
			}
		}
		if left == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Errorf("cleanup %s: %d configs, secrets or networks still in use", stack, left)
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}
