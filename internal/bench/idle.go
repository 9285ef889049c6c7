package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// idleStacks is the number of one-service stacks the controller at rest
// watches.
const idleStacks = 10

// idleResult is the controller at rest.
type idleResult struct {
	rss, hwm        int64
	cpu             time.Duration // over window
	window          time.Duration
	calls           counts // Engine API requests over window
	plain, stripped int64  // binary sizes
}

// idle runs `moor run` on 10 stacks at a 10s interval and reads its memory
// and CPU from /proc after the first converge and again idle later.
func (b *bench) idle(ctx context.Context) error {
	var res idleResult
	if err := b.binarySizes(ctx, &res); err != nil {
		return err
	}
	r, err := b.newRepo(ctx, "idle")
	if err != nil {
		return err
	}
	var projects []string
	for i := range idleStacks {
		dir := b.name(fmt.Sprintf("idle-%d", i))
		projects = append(projects, dir)
		if err := r.write(dir, plainServices(b.image, i, 1, func(int) string { return "0" })); err != nil {
			return err
		}
	}
	if err := r.commit(ctx, "10 stacks"); err != nil {
		return err
	}
	state, err := b.dir("state")
	if err != nil {
		return err
	}
	b.logf("controller at rest: %d stacks, interval 10s, watched for %s", idleStacks, b.opt.idle)
	d, err := b.startDaemon("unix://"+b.proxy.path, "run", "--repo", r.dir, "--name", b.name("idle"),
		"--state-dir", state, "--interval", "10s", "--listen", "off", "--log-format", "json")
	if err != nil {
		return err
	}
	defer d.stop()
	if _, err := d.waitApplied(ctx, 0, 2*time.Minute); err != nil {
		return err
	}
	if _, err := b.waitRunning(ctx, idleStacks, time.Minute, projects...); err != nil {
		return err
	}
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	pid := d.cmd.Process.Pid
	first, err := readProc(pid)
	if err != nil {
		return err
	}
	calls := b.proxy.snapshot()
	start := time.Now()
	if err := sleep(ctx, b.opt.idle); err != nil {
		return err
	}
	last, err := readProc(pid)
	if err != nil {
		return err
	}
	res.window = time.Since(start)
	res.calls = b.proxy.snapshot().minus(calls)
	res.rss, res.hwm, res.cpu = last.rss, last.hwm, last.cpu-first.cpu
	if n := d.applied(); n != 1 {
		return fmt.Errorf("moor run applied %d times on an unchanged repository:\n%s", n, d.log())
	}
	b.rep.idle = &res
	return nil
}

// binarySizes builds moor as `go build ./cmd/moor` does, and stripped.
func (b *bench) binarySizes(ctx context.Context, res *idleResult) error {
	dir, err := b.dir("size")
	if err != nil {
		return err
	}
	for _, v := range []struct {
		size  *int64
		flags []string
	}{{&res.plain, nil}, {&res.stripped, []string{"-ldflags", "-s -w"}}} {
		bin := filepath.Join(dir, "moor")
		if err := b.goBuild(ctx, bin, "./cmd/moor", nil, v.flags...); err != nil {
			return err
		}
		fi, err := os.Stat(bin)
		if err != nil {
			return err
		}
		*v.size = fi.Size()
	}
	return nil
}
