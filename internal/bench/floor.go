package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// The Engine floor is the physical minimum of a figure: the engine calls
// that must be made, made by the bench itself through the Engine API, with
// no tool in between. A tool's figure divided by the floor's is what the
// tool adds.

// floorClient is a client of the engine behind the counting proxy, as the
// tools are: the floor pays the proxy's hop too, and its calls are counted.
// The API version is negotiated before any floor is timed.
func (b *bench) floorClient(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(client.WithHost("unix://"+b.proxy.path), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("floor client: %w", err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("floor client: ping: %w", err)
	}
	return cli, nil
}

// floorDeploy is the floor of a first deploy of n plain services: one
// network create, then n container creates and starts, all in parallel,
// timed from the first call to the last start's answer. The containers are
// the services' (image, environment, compose's labels, the project's
// network).
func (b *bench) floorDeploy(ctx context.Context, cli *client.Client, n int) (sample, error) {
	labels := func(service string) map[string]string {
		l := map[string]string{labelProject: b.name("floor")}
		if service != "" {
			l[labelService], l[labelNumber] = service, "1"
		}
		return l
	}
	net := b.name("floor") + "_default"
	before := b.proxy.snapshot()
	start := time.Now()
	if _, err := cli.NetworkCreate(ctx, net, client.NetworkCreateOptions{Driver: "bridge", Labels: labels("")}); err != nil {
		return sample{}, fmt.Errorf("floor: create network %s: %w", net, err)
	}
	items := make([]string, n)
	for i := range n {
		items[i] = fmt.Sprintf("svc%d", i)
	}
	errs := parallel(items, n, func(svc string) error {
		res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name: b.name("floor") + "-" + svc + "-1",
			Config: &container.Config{
				Image:  b.image,
				Env:    []string{"N=" + strings.TrimPrefix(svc, "svc"), "REV=0"},
				Labels: labels(svc),
			},
			HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(net)},
			NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
				net: {Aliases: []string{svc}},
			}},
		})
		if err != nil {
			return fmt.Errorf("create %s: %w", svc, err)
		}
		if _, err := cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("start %s: %w", svc, err)
		}
		return nil
	})
	s := sample{wall: time.Since(start), calls: b.proxy.snapshot().minus(before)}
	if len(errs) > 0 {
		return s, fmt.Errorf("floor: %w (and %d more)", errs[0], len(errs)-1)
	}
	return s, nil
}

// floorList is the floor of a no-op: one list of the containers of the
// projects (of every compose project, when there are several), which is all
// a converged host must be asked.
func (b *bench) floorList(ctx context.Context, cli *client.Client, projects []string) (sample, error) {
	label := labelProject
	if len(projects) == 1 {
		label += "=" + projects[0]
	}
	before := b.proxy.snapshot()
	start := time.Now()
	if _, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", label)}); err != nil {
		return sample{}, fmt.Errorf("floor: list containers: %w", err)
	}
	return sample{wall: time.Since(start), calls: b.proxy.snapshot().minus(before)}, nil
}

// floorReplacer replaces one running container the way moor replaces a
// stop-first service: create the new container (a copy of the old one's
// configuration with VERSION changed), stop the old one, start the new
// one. What moor does around it (fetch, load, plan, renames, the wait for
// health, the removal of the old container) is not part of it.
type floorReplacer struct {
	cli  *client.Client
	name string // the container's name; the new ones are NAME-floor-N
	id   string // the running container
	seq  int

	retired []string // containers stopped by a replacement, to remove
}

// newFloorReplacer takes over the running container id.
func newFloorReplacer(ctx context.Context, cli *client.Client, id string) (*floorReplacer, error) {
	res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("floor: inspect %.12s: %w", id, err)
	}
	return &floorReplacer{cli: cli, name: strings.TrimPrefix(res.Container.Name, "/"), id: id}, nil
}

// replace replaces the container with one whose VERSION is version. It
// returns when the new one is started, and when its first call (the
// create) was made: the caller times the replacement from there until the
// port answers.
func (f *floorReplacer) replace(ctx context.Context, version string) (time.Time, error) {
	res, err := f.cli.ContainerInspect(ctx, f.id, client.ContainerInspectOptions{})
	if err != nil {
		return time.Time{}, fmt.Errorf("floor: inspect %.12s: %w", f.id, err)
	}
	old := res.Container
	cfg := *old.Config
	cfg.Hostname = "" // the old container's ID; the new one gets its own
	cfg.Env = slices.DeleteFunc(slices.Clone(cfg.Env), func(e string) bool { return strings.HasPrefix(e, "VERSION=") })
	cfg.Env = append(cfg.Env, "VERSION="+version)
	endpoints := map[string]*network.EndpointSettings{}
	for name, ep := range old.NetworkSettings.Networks {
		endpoints[name] = &network.EndpointSettings{Aliases: ep.Aliases}
	}
	f.seq++
	start := time.Now()
	created, err := f.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:             fmt.Sprintf("%s-floor-%d", f.name, f.seq),
		Config:           &cfg,
		HostConfig:       old.HostConfig,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: endpoints},
	})
	if err != nil {
		return start, fmt.Errorf("floor: create: %w", err)
	}
	if _, err := f.cli.ContainerStop(ctx, old.ID, client.ContainerStopOptions{}); err != nil {
		return start, fmt.Errorf("floor: stop %.12s: %w", old.ID, err)
	}
	f.retired = append(f.retired, old.ID)
	f.id = created.ID
	if _, err := f.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return start, fmt.Errorf("floor: start: %w", err)
	}
	return start, nil
}

// removeRetired removes the containers replaced so far, as moor does once
// the new one is ready; not part of the floor's time.
func (f *floorReplacer) removeRetired(ctx context.Context) error {
	ids := f.retired
	f.retired = nil
	for _, id := range ids {
		if _, err := f.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			return fmt.Errorf("floor: remove %.12s: %w", id, err)
		}
	}
	return nil
}
