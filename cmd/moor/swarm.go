package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/swarm"
)

// swarmFor returns the swarm engine of a source with runtime: swarm,
// connected once for all such sources; nil for any other source. Whether
// the engine is a manager is checked by every run, which refuses the
// source with a clear error when it is not.
func (p *parts) swarmFor(ctx context.Context, s config.Source) (*swarm.Engine, error) {
	if s.Runtime != config.RuntimeSwarm {
		return nil, nil
	}
	if p.swarm == nil {
		e, err := swarm.NewEngine(ctx)
		if err != nil {
			return nil, err
		}
		e.Log = p.log.Named("swarm")
		p.swarm = e
	}
	return p.swarm, nil
}

// validateSwarm is moor validate --runtime swarm: every stack under dir
// loaded and mapped onto Swarm's objects as a swarm source would.
func validateSwarm(ctx context.Context, e *env, dir string, opts compose.Options) int {
	stacks, broken, err := compose.LoadSwarm(ctx, dir, opts)
	if err != nil {
		return e.errorf("%v", err)
	}
	d := swarm.Map(stacks, broken, "validate", "", "")
	code := exitOK
	for _, name := range d.StackNames() {
		if err := d.Broken[name]; err != nil {
			fmt.Fprintf(e.stdout, "error %s: %s\n", name, printable.Error(err))
			code = exitError
			continue
		}
		st := d.Stacks[name]
		fmt.Fprintf(e.stdout, "ok    %s (%s)\n", name, printable.Escape(strings.Join(slices.Sorted(maps.Keys(st.Services)), ", ")))
		for _, w := range st.Warnings {
			fmt.Fprintf(e.stdout, "warn  %s: %s\n", name, printable.Escape(w))
		}
	}
	return code
}
