package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/moby/moby/client"
)

// downtimeResult is what a tool's stop-first replacements cost clients.
type downtimeResult struct {
	downtime []time.Duration // longest window without a successful answer, per change
	fails    []int           // failed requests, per change
	wall     []time.Duration // the tool's own run
	replaced []int
}

// downtime changes the environment of a service that publishes a host port
// (moor replaces it stop-first; compose always stops, then creates and
// starts) while a prober GETs the port in a tight loop.
func (b *bench) downtime(ctx context.Context) error {
	for _, t := range []tool{b.moorTool(b.name("down")), b.composeTool()} {
		res, err := b.downtimeOf(ctx, t)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if t.name == "moor" {
			b.rep.downMoor = res
		} else {
			b.rep.downCompose = res
		}
	}
	res, err := b.downtimeFloor(ctx)
	if err != nil {
		return fmt.Errorf("Engine floor: %w", err)
	}
	b.rep.downFloor = res
	return nil
}

// downtimeFloor measures the downtime of the Engine floor of a stop-first
// replacement (create new, stop old, start new; see floorReplacer) of the
// service moor deployed, under the same prober. Its "run" is from the
// create to the start's answer.
func (b *bench) downtimeFloor(ctx context.Context) (downtimeResult, error) {
	var res downtimeResult
	if err := b.cleanup(ctx); err != nil {
		return res, err
	}
	defer b.cleanup(context.WithoutCancel(ctx))
	dir := b.name("down")
	cli, err := b.floorClient(ctx) // through the proxy, as the tools here
	if err != nil {
		return res, err
	}
	defer cli.Close()
	f, port, err := b.floorWeb(ctx, cli, "down", dir)
	if err != nil {
		return res, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for c := 1; c <= b.opt.stops; c++ {
		b.logf("stop-first downtime, Engine floor, %d/%d", c, b.opt.stops)
		v := strconv.Itoa(c)
		p := startProber(ctx, url)
		if err := p.ready(ctx); err != nil {
			p.finish()
			return res, err
		}
		start, err := f.replace(ctx, v)
		took := time.Since(start)
		if err == nil {
			_, err = waitServes(ctx, port, v, time.Minute)
		}
		if err == nil {
			err = sleep(ctx, 100*time.Millisecond)
		}
		down, fails := p.finish()
		if err != nil {
			return res, err
		}
		if err := f.removeRetired(ctx); err != nil {
			return res, err
		}
		res.downtime = append(res.downtime, down)
		res.fails = append(res.fails, fails)
		res.wall = append(res.wall, took)
		res.replaced = append(res.replaced, 1)
	}
	return res, nil
}

// floorWeb deploys the web service of a new repository with `moor apply`
// and hands its container to a floorReplacer that talks to the engine
// through cli.
func (b *bench) floorWeb(ctx context.Context, cli *client.Client, name, dir string) (*floorReplacer, int, error) {
	r, port, err := b.webRepo(ctx, name, dir)
	if err != nil {
		return nil, 0, err
	}
	state, err := b.dir("state")
	if err != nil {
		return nil, 0, err
	}
	if _, _, err := b.moorTool(dir).up(ctx, r.dir, state, []string{dir}); err != nil {
		return nil, 0, err
	}
	if _, err := waitServes(ctx, port, "0", time.Minute); err != nil {
		return nil, 0, err
	}
	running, err := b.waitRunning(ctx, 1, time.Minute, dir)
	if err != nil {
		return nil, 0, err
	}
	var id string
	for _, v := range running {
		id = v
	}
	f, err := newFloorReplacer(ctx, cli, id)
	return f, port, err
}

func (b *bench) downtimeOf(ctx context.Context, t tool) (downtimeResult, error) {
	var res downtimeResult
	if err := b.cleanup(ctx); err != nil {
		return res, err
	}
	defer b.cleanup(context.WithoutCancel(ctx))
	dir := b.name("down")
	project := t.project(dir)
	r, port, err := b.webRepo(ctx, "down", dir)
	if err != nil {
		return res, err
	}
	state, err := b.dir("state")
	if err != nil {
		return res, err
	}
	if _, _, err := t.up(ctx, r.dir, state, []string{dir}); err != nil {
		return res, err
	}
	if _, err := waitServes(ctx, port, "0", time.Minute); err != nil {
		return res, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for c := 1; c <= b.opt.stops; c++ {
		b.logf("stop-first downtime, %s, %d/%d", t.name, c, b.opt.stops)
		v := strconv.Itoa(c)
		if err := r.write(dir, webService(b.image, port, v)); err != nil {
			return res, err
		}
		if err := r.commit(ctx, "web v"+v); err != nil {
			return res, err
		}
		before, err := b.waitRunning(ctx, 1, time.Minute, project)
		if err != nil {
			return res, err
		}
		p := startProber(ctx, url)
		if err := p.ready(ctx); err != nil {
			p.finish()
			return res, err
		}
		s, _, err := t.up(ctx, r.dir, state, []string{dir})
		if err == nil {
			_, err = waitServes(ctx, port, v, time.Minute)
		}
		if err == nil {
			// A few more answers close the last window.
			err = sleep(ctx, 100*time.Millisecond)
		}
		down, fails := p.finish()
		if err != nil {
			return res, err
		}
		after, err := b.waitRunning(ctx, 1, time.Minute, project)
		if err != nil {
			return res, err
		}
		res.downtime = append(res.downtime, down)
		res.fails = append(res.fails, fails)
		res.wall = append(res.wall, s.wall)
		res.replaced = append(res.replaced, before.replaced(after))
	}
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// webRepo makes a deploy repository named name whose stack dir is one web
// service (webService, version 0) published on a free port.
func (b *bench) webRepo(ctx context.Context, name, dir string) (*repo, int, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	r, err := b.newRepo(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	if err := r.write(dir, webService(b.image, port, "0")); err != nil {
		return nil, 0, err
	}
	if err := r.commit(ctx, "web v0"); err != nil {
		return nil, 0, err
	}
	return r, port, nil
}
