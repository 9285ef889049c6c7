package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// prefix starts every stack and compose project the bench creates; cleanup
// goes by it. Their names are b.name(KEY).
const prefix = "moorbench-"

// name is the name of the bench's stack or project KEY in this run:
// moorbench-TAG-KEY, TAG being new each run. A network the engine fails to
// release (it can keep a stale endpoint on one until it restarts, moby
// #43286) then stays in the way of no later run.
func (b *bench) name(key string) string {
	return prefix + b.tag + "-" + key
}

// Labels both tools put on what they create (moor sets compose's too).
const (
	labelProject = "com.docker.compose.project"
	labelService = "com.docker.compose.service"
	labelNumber  = "com.docker.compose.container-number"
	labelStack   = "moor.stack"
)

// replicas maps "project/service/number" to a container's ID.
type replicas map[string]string

// replaced counts the replicas of before whose container ID changed (or
// that are gone) in after.
func (before replicas) replaced(after replicas) int {
	n := 0
	for k, id := range before {
		if after[k] != id {
			n++
		}
	}
	return n
}

// running returns the running containers of the given compose projects.
// Containers moor keeps aside (-retired, -candidate) are not replicas.
func (b *bench) running(ctx context.Context, projects ...string) (replicas, error) {
	want := map[string]bool{}
	for _, p := range projects {
		want[p] = true
	}
	res, err := b.cli.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", labelProject)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := replicas{}
	for _, c := range res.Items {
		p := c.Labels[labelProject]
		if !want[p] || len(c.Names) == 0 || strings.HasSuffix(c.Names[0], "-retired") || strings.HasSuffix(c.Names[0], "-candidate") {
			continue
		}
		out[p+"/"+c.Labels[labelService]+"/"+c.Labels[labelNumber]] = c.ID
	}
	return out, nil
}

// waitRunning waits until n replicas of projects run.
func (b *bench) waitRunning(ctx context.Context, n int, timeout time.Duration, projects ...string) (replicas, error) {
	var got replicas
	err := poll(ctx, timeout, 100*time.Millisecond, func() (bool, error) {
		var err error
		got, err = b.running(ctx, projects...)
		return err == nil && len(got) == n, err
	})
	if err != nil {
		return got, fmt.Errorf("%d of %d containers of %s running: %w", len(got), n, strings.Join(projects, ", "), err)
	}
	return got, nil
}

var errTimeout = errors.New("timed out")

// poll calls cond every interval until it returns true, an error, or
// timeout passes.
func poll(ctx context.Context, timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s", errTimeout, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// cleanup removes every container, then network, then volume whose compose
// project or moor stack starts with prefix: whatever either tool made in
// this run or a killed one.
func (b *bench) cleanup(ctx context.Context) error {
	ours := func(labels map[string]string) bool {
		return strings.HasPrefix(labels[labelProject], prefix) || strings.HasPrefix(labels[labelStack], prefix)
	}
	var errs []error
	var ids []string
	for _, label := range []string{labelProject, labelStack} {
		res, err := b.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", label)})
		if err != nil {
			return fmt.Errorf("cleanup: list containers: %w", err)
		}
		for _, c := range res.Items {
			if ours(c.Labels) && !slices.Contains(ids, c.ID) {
				ids = append(ids, c.ID)
			}
		}
	}
	errs = append(errs, parallel(ids, 8, func(id string) error {
		_, err := b.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
			return fmt.Errorf("remove container %.12s: %w", id, err)
		}
		return nil
	})...)
	for _, label := range []string{labelProject, labelStack} {
		res, err := b.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", label)})
		if err != nil {
			return fmt.Errorf("cleanup: list networks: %w", err)
		}
		for _, n := range res.Items {
			if !ours(n.Labels) || b.stale[n.ID] {
				continue
			}
			// A container whose removal the engine has in progress (a
			// conflict above) still holds the network for a moment.
			var err error
			for deadline := time.Now().Add(30 * time.Second); ; {
				_, err = b.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
				if err == nil || cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "active endpoints") || time.Now().After(deadline) {
					break
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(200 * time.Millisecond):
				}
			}
			if err != nil && !cerrdefs.IsNotFound(err) {
				// The engine can keep a stale endpoint on a network with no
				// container left, until it restarts; such a network harms
				// no measurement (this run's names are new).
				b.stale[n.ID] = true
				b.logf("warning: remove network %s: %v", n.Name, err)
			}
		}
	}
	for _, label := range []string{labelProject, labelStack} {
		res, err := b.cli.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", label)})
		if err != nil {
			return fmt.Errorf("cleanup: list volumes: %w", err)
		}
		for _, v := range res.Items {
			if !ours(v.Labels) {
				continue
			}
			if _, err := b.cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	return nil
}

// parallel runs f on every item, n at a time, and returns the errors.
func parallel(items []string, n int, f func(string) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, n)
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(it); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
