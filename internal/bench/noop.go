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

// dirs are the stack directories: moorbench-KEY, or moorbench-KEY-I.
func (l layout) dirs() []string {
	if l.stacks == 1 {
		return []string{prefix + l.key}
	}
	var out []string
	for i := range l.stacks {
		out = append(out, fmt.Sprintf("%s%s-%d", prefix, l.key, i))
	}
	return out
}

var noopLayouts = []layout{
	{label: "no-op, 10 services in 1 stack", key: "noop10", stacks: 1, per: 10},
	{label: "no-op, 100 services in 10 stacks of 10", key: "noop100x10", stacks: 10, per: 10},
	{label: "no-op, 100 services in 1 stack", key: "noop100", stacks: 1, per: 100},
}

// comparison is one measurement taken of both tools.
type comparison struct {
	label   string
	moor    []sample
	compose []sample
}

// noop measures a run on a converged host, per layout and tool: converge
// once, then run again reps times and check that nothing was recreated.
func (b *bench) noop(ctx context.Context) error {
	for _, l := range noopLayouts {
		c := comparison{label: l.label}
		for _, t := range []tool{b.moorTool(prefix + l.key), b.composeTool()} {
			samples, err := b.noopOf(ctx, l, t)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", l.label, t.name, err)
			}
			if t.name == "moor" {
				c.moor = samples
			} else {
				c.compose = samples
			}
		}
		b.rep.noop = append(b.rep.noop, c)
	}
	return nil
}

func (b *bench) noopOf(ctx context.Context, l layout, t tool) ([]sample, error) {
	b.logf("%s: %s", l.label, t.name)
	if err := b.cleanup(ctx); err != nil {
		return nil, err
	}
	defer b.cleanup(context.WithoutCancel(ctx))
	r, err := b.newRepo(ctx, l.key)
	if err != nil {
		return nil, err
	}
	var projects []string
	for i, d := range l.dirs() {
		projects = append(projects, t.project(d))
		if err := r.write(d, plainServices(b.image, i*l.per, l.per, func(int) string { return "0" })); err != nil {
			return nil, err
		}
	}
	if err := r.commit(ctx, l.label); err != nil {
		return nil, err
	}
	state, err := b.dir("state")
	if err != nil {
		return nil, err
	}
	if _, _, err := t.up(ctx, r.dir, state, l.dirs()); err != nil {
		return nil, err
	}
	before, err := b.waitRunning(ctx, l.services(), time.Minute, projects...)
	if err != nil {
		return nil, err
	}
	var samples []sample
	for range b.opt.reps {
		s, out, err := t.up(ctx, r.dir, state, l.dirs())
		if err != nil {
			return nil, err
		}
		if !isNoop(t, out) {
			return nil, fmt.Errorf("not a no-op:\n%s", out)
		}
		samples = append(samples, s)
	}
	after, err := b.running(ctx, projects...)
	if err != nil {
		return nil, err
	}
	if !maps.Equal(before, after) {
		return nil, fmt.Errorf("containers changed during no-op runs: %d of %d replaced", before.replaced(after), len(before))
	}
	return samples, nil
}

// isNoop says whether a tool's output reports that it changed nothing.
func isNoop(t tool, out string) bool {
	if t.name == "moor" {
		return strings.Contains(out, "no changes")
	}
	for _, w := range []string{"Creating", "Recreating", "Starting", "Removing"} {
		if strings.Contains(out, w) {
			return false
		}
	}
	return true
}
