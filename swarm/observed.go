package swarm

import "github.com/moby/moby/api/types/swarm"

// Observed is one snapshot of the swarm's stack objects: every service,
// network, config and secret carrying com.docker.stack.namespace, moor's
// or not (a stack deployed by hand under a name moor wants is a
// conflict, never taken over).
type Observed struct {
	Services []ObservedService
	Networks []ObservedObject
	Configs  []ObservedObject
	Secrets  []ObservedObject
	// Volumes are this node's volumes of stacks: Swarm creates a named
	// volume on each node a task using it runs on.
	Volumes []ObservedObject
}

// ObservedService is a service as Swarm stores it, its networks named
// (Swarm stores their IDs).
type ObservedService struct {
	ID      string
	Version uint64
	Spec    swarm.ServiceSpec
	// Update is the state of its last update (UpdateStatus.State), and
	// UpdateMessage Swarm's word on it.
	Update, UpdateMessage string
	// Running and Desired count its tasks (ServiceStatus).
	Running, Desired int
	Owner            Ownership
}

// ObservedObject is an observed network, config or secret.
type ObservedObject struct {
	ID, Name string
	Owner    Ownership
}

// Ownership is what an object's labels say of who made it.
type Ownership struct {
	Stack, Source, Owner string
}

func ownershipOf(labels map[string]string) Ownership {
	return Ownership{Stack: labels[LabelNamespace], Source: labels[labelSource], Owner: labels[labelOwner]}
}

// Name is the service's Swarm name.
func (s ObservedService) Name() string { return s.Spec.Name }
