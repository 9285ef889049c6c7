package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// initCost is what one package's init costs at process start, as
// GODEBUG=inittrace=1 reports it, averaged over the traced runs.
type initCost struct {
	pkg    string
	clock  time.Duration
	bytes  int64
	allocs int64
}

// startResult is the cost of a process start.
type startResult struct {
	comparison
	inits      []initCost    // the costliest first; nil: not traced
	initsTotal time.Duration // every package's init, summed
	traced     int           // traced runs
}

// traceRuns is how many traced starts the inits are averaged over.
const traceRuns = 5

// start measures process start: `moor version` against `docker compose
// version` (the docker CLI, which execs the compose plugin), with the exec
// of /bin/true as the floor; and, with -inittrace, where moor's start goes.
func (b *bench) start(ctx context.Context) error {
	res := startResult{comparison: comparison{label: "process start: `moor version`, `docker compose version`; floor `/bin/true`"}}
	compose := strings.Fields(b.opt.compose)
	for _, cmd := range []struct {
		samples *[]sample
		name    string
		args    []string
	}{
		{&res.floor, "/bin/true", nil},
		{&res.moor, b.moor, []string{"version"}},
		{&res.compose, compose[0], append(slices.Clone(compose[1:]), "version")},
	} {
		b.logf("process start: %s, %d times", strings.Join(append([]string{cmd.name}, cmd.args...), " "), b.opt.starts)
		for range b.opt.starts {
			s, _, err := b.exec(ctx, b.work, cmd.name, cmd.args...)
			if err != nil {
				return err
			}
			*cmd.samples = append(*cmd.samples, s)
		}
	}
	if b.opt.inittrace {
		if err := b.traceInits(ctx, &res); err != nil {
			return err
		}
	}
	b.rep.start = &res
	return nil
}

// traceInits runs `moor version` with GODEBUG=inittrace=1 traceRuns times
// and keeps each package's mean init cost.
func (b *bench) traceInits(ctx context.Context, res *startResult) error {
	sum := map[string]*initCost{}
	for range traceRuns {
		cmd := exec.CommandContext(ctx, b.moor, "version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("moor version with inittrace: %w\n%s", err, stderr.String())
		}
		for _, c := range parseInitTrace(stderr.String()) {
			s := sum[c.pkg]
			if s == nil {
				s = &initCost{pkg: c.pkg}
				sum[c.pkg] = s
			}
			s.clock += c.clock
			s.bytes += c.bytes
			s.allocs += c.allocs
		}
	}
	for _, s := range sum {
		s.clock /= traceRuns
		s.bytes /= traceRuns
		s.allocs /= traceRuns
		res.inits = append(res.inits, *s)
		res.initsTotal += s.clock
	}
	slices.SortFunc(res.inits, func(a, b initCost) int {
		if a.clock != b.clock {
			return int(b.clock - a.clock)
		}
		return strings.Compare(a.pkg, b.pkg)
	})
	res.traced = traceRuns
	return nil
}

// parseInitTrace reads the runtime's inittrace lines:
//
//	init PKG @0.5 ms, 1.2 ms clock, 1024 bytes, 12 allocs
func parseInitTrace(out string) []initCost {
	var costs []initCost
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var c initCost
		var at, clock float64
		if _, err := fmt.Sscanf(sc.Text(), "init %s @%f ms, %f ms clock, %d bytes, %d allocs", &c.pkg, &at, &clock, &c.bytes, &c.allocs); err != nil {
			continue
		}
		c.clock = time.Duration(clock * float64(time.Millisecond))
		costs = append(costs, c)
	}
	return costs
}
