package reconcile

// Claim is a host resource that one service of a stack must hold alone: a
// published host port range or a container name. Two stacks of one
// repository claiming the same one cannot both run; compose checks it when
// a revision loads.
type Claim struct {
	Service string
	// Entry is the claiming field as the user wrote it, for messages:
	// ports[0] "8080:80", container_name "db".
	Entry string
	// A published host port range: Lo..Hi on HostIP ("" for every
	// address) and Protocol ("tcp", "udp", "sctp").
	HostIP   string `json:",omitempty"`
	Protocol string `json:",omitempty"`
	Lo, Hi   int    `json:",omitempty"`
	// Name is a container name, set for container_name and for the
	// names compose gives replicas (STACK-SERVICE-N).
	Name string `json:",omitempty"`
	// Default is set on a name compose gives, not one the user wrote.
	Default bool `json:",omitempty"`
}
