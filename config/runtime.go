package config

// Runtimes: what a source's stacks run as (sources[].runtime).
const (
	// RuntimeDocker runs each service as containers of this engine.
	RuntimeDocker = "docker"
	// RuntimeSwarm deploys each stack as Swarm services on the swarm this
	// engine is a manager of, as `docker stack deploy` does.
	RuntimeSwarm = "swarm"
)
