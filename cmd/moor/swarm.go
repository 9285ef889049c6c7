package main

import (
	"context"

	"github.com/moor-dev/moor/config"
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
