package reconcile

import "context"

// Event is something the engine reports having happened to a container,
// network or volume that may have moved the host away from the revision:
// a container that died, stopped, was killed, removed, renamed or updated;
// a network removed or a container disconnected from one; a volume
// removed.
type Event struct {
	// Kind is "container", "network" or "volume".
	Kind string
	// Action is the engine's ("die", "destroy", "disconnect", ...).
	Action string
	// ID is the container's or network's ID, or the volume's name.
	ID string
	// Name is the container's or network's name, or the volume's.
	Name string
	// Source and Stack are the container's moor.source and moor.stack
	// labels; the engine reports no labels for networks and volumes.
	Source, Stack string
}

// EventKinds are the kinds of Event.
const (
	EventContainer = "container"
	EventNetwork   = "network"
	EventVolume    = "volume"
)

// Events is an engine that reports Events as they happen.
type Events interface {
	// Events subscribes to the engine's events. The subscription is in
	// place when it returns without error: what happens afterwards is
	// delivered on the first channel, in order. The second channel
	// receives one error when the subscription ends (the engine went away,
	// ctx is done); both channels are closed then.
	Events(ctx context.Context) (<-chan Event, <-chan error, error)
}
