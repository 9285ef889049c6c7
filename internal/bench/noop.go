package main

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"
)

// layout is a set of stacks of plain services.
type layout struct {
	label  string // as the report shows it
	key    string // names the stack dirs
	stacks int
	per    int // services per stack
}

func (l layout) services() int { return l.stacks * l.per }

// dirs are the stack directories of l: b.name(KEY), or b.name(KEY-I).
func (b *bench) dirs(l layout) []string {
	if l.stacks == 1 {
		return []string{b.name(l.key)}
	}
	var out []string
	for i := range l.stacks {
		out = append(out, b.name(fmt.Sprintf("%s-%d", l.key, i)))
	}
	return out
}

var noopLayouts = []layout{
	{label: "no-op, 10 services in 1 stack", key: "noop10", stacks: 1, per: 10},
	{label: "no-op, 100 services in 10 stacks of 10", key: "noop100x10", stacks: 10, per: 10},
	{label: "no-op, 100 services in 1 stack", key: "noop100", stacks: 1, per: 100},
}

// comparison is one measurement taken of both tools, and of the Engine
// floor (none: not measured).
type comparison struct {
	label   string
	moor    []sample
	compose []sample
	floor   []sample
}

// noop measures a run on a converged host, per layout and tool: converge
// once, then run again reps times and check that nothing was recreated. The
// Engine floor, one list of the containers, is measured on moor's host.
func (b *bench) noop(ctx context.Context) error {
	for _, l := range noopLayouts {
		c := comparison{label: l.label}
		for _, t := range []tool{b.moorTool(b.name(l.key)), b.composeTool()} {
			samples, floor, err := b.noopOf(ctx, l, t)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", l.label, t.name, err)
			}
			if t.name == "moor" {
				c.moor, c.floor = samples, floor
			} else {
				c.compose = samples
			}
		}
		b.rep.noop = append(b.rep.noop, c)
	}
	return nil
}

func (b *bench) noopOf(ctx context.Context, l layout, t tool) (samples, floor []sample, err error) {
	b.logf("%s: %s", l.label, t.name)
	if err := b.cleanup(ctx); err != nil {
		return nil, nil, err
	}
	defer b.cleanup(context.WithoutCancel(ctx))
	r, err := b.newRepo(ctx, l.key)
	if err != nil {
		return nil, nil, err
	}
	var projects []string
	for i, d := range b.dirs(l) {
		projects = append(projects, t.project(d))
		if err := r.write(d, plainServices(b.image, i*l.per, l.per, func(int) string { return "0" })); err != nil {
			return nil, nil, err
		}
	}
	if err := r.commit(ctx, l.label); err != nil {
		return nil, nil, err
	}
	state, err := b.dir("state")
	if err != nil {
		return nil, nil, err
	}
	if _, _, err := t.up(ctx, r.dir, state, b.dirs(l)); err != nil {
		return nil, nil, err
	}
	before, err := b.waitRunning(ctx, l.services(), time.Minute, projects...)
	if err != nil {
		return nil, nil, err
	}
	for range b.opt.reps {
		s, out, err := t.up(ctx, r.dir, state, b.dirs(l))
		if err != nil {
			return nil, nil, err
		}
		if !isNoop(t, out) {
			return nil, nil, fmt.Errorf("not a no-op:\n%s", out)
		}
		samples = append(samples, s)
	}
	if t.name == "moor" {
		cli, err := b.floorClient(ctx)
		if err != nil {
			return nil, nil, err
		}
		defer cli.Close()
		for range b.opt.reps {
			s, err := b.floorList(ctx, cli, projects)
			if err != nil {
				return nil, nil, err
			}
			floor = append(floor, s)
		}
	}
	after, err := b.running(ctx, projects...)
	if err != nil {
		return nil, nil, err
	}
	if !maps.Equal(before, after) {
		return nil, nil, fmt.Errorf("containers changed during no-op runs: %d of %d replaced", before.replaced(after), len(before))
	}
	return samples, floor, nil
}

// isNoop says whether a tool's output reports that it changed nothing.
func isNoop(t tool, out string) bool {
	if t.name == "moor" {
		return strings.Contains(out, "no changes")
	}
	// compose v2: "Container NAME  Running" for each service it left alone.
	for _, w := range []string{"Creat", "Recreat", "Start", "Remov", "Stop"} {
		if strings.Contains(out, w) {
			return false
		}
	}
	return true
}
