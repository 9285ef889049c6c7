package reconcile

import "time"

// Observed is one snapshot of the engine: every resource carrying moor's
// labels, and the local images. The runtime builds it from one list call per
// kind.
type Observed struct {
	Containers []Container // sorted by Name
	Networks   []Network   // sorted by Name
	Volumes    []Volume    // sorted by Name
	// Images maps every local image reference (familiar form with tag,
	// "nginx:1.27", or with digest, "app@sha256:…") to its image ID.
	Images map[string]string
	// Registry is what the registry said each checked tag names now, by
	// reference as the services write it ("registry:5000/app:1"), as a
	// digest; only an image-update run asks (the source's image_updates).
	// A tag it names another image by than the one a container runs is
	// pulled and rolled out.
	Registry map[string]string `json:",omitempty"`
	// BuildHashes are the LabelBuildHash of the local images that carry
	// it (the images moor built), by image ID.
	BuildHashes map[string]string `json:",omitempty"`
	// Files is what each stack directory of the source holds, by stack
	// (Files.ObserveFiles).
	Files map[string]StackFiles
	// Compose are the containers, networks and volumes of compose projects
	// that do not carry LabelStack: what docker compose made, which moor
	// may adopt (sorted by name).
	Compose         []Container
	ComposeNetworks []Network
	ComposeVolumes  []Volume
}

// Container states, as the engine reports them.
const (
	StateCreated    = "created"
	StateRunning    = "running"
	StatePaused     = "paused"
	StateRestarting = "restarting"
	StateExited     = "exited"
	StateDead       = "dead"
	StateRemoving   = "removing"
)

// Health states; "" when the container has no healthcheck.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Container is one container carrying moor.stack, with its labels parsed.
type Container struct {
	ID      string
	Name    string // without the leading "/"
	Stack   string
	Service string
	Number  int // compose container-number; 0 if missing or unparsable
	Source  string
	// Owner is LabelOwner: the moor instance that made it, "" for a
	// container made before instances were recorded.
	Owner      string
	Revision   string
	ConfigHash string
	// ImageLabeled: the container's image itself carries LabelStack, so its
	// moor labels may come from the image rather than from moor.
	ImageLabeled bool
	// What compose's labels say: the project, the service, compose's config
	// hash and the project's working directory. Adopted: a container docker
	// compose made, which this instance took over.
	Project        string
	ComposeService string
	ComposeHash    string
	WorkingDir     string
	Adopted        bool
	// Retired is true when Name ends in RetiredSuffix: an old container kept
	// during a replacement.
	Retired bool
	Image   string // the reference it was created from
	ImageID string
	State   string
	// ExitCode and Health need an inspect; List fills them from the
	// status text where the engine gives them ("Exited (0)", "(healthy)").
	ExitCode int
	Health   string
	// Restarts is how often the engine restarted it under its restart
	// policy (inspect only).
	Restarts int
	// HealthOutput is what the last health probe printed (inspect only).
	HealthOutput string
	// StaleNamespace: the container shares the network namespace of a
	// container (network_mode container: or service:) that started after
	// it did; its network went with the namespace it joined.
	StaleNamespace bool
	Created        time.Time
	Labels         map[string]string
	// Binds are the host paths the container binds.
	Binds []string
	// PreStop are the pre_stop hooks it was created with (LabelPreStop),
	// run before moor stops it.
	PreStop []Hook `json:",omitempty"`
}

// Running reports whether the container is up (running or restarting).
func (c Container) Running() bool {
	return c.State == StateRunning || c.State == StateRestarting
}

// Network is one network carrying moor.stack (or, in Observed.Compose-
// Networks, compose's project label only).
type Network struct {
	ID      string
	Name    string
	Project string
	Stack   string
	Source  string
	Owner   string
	Labels  map[string]string
}

// Volume is one volume carrying moor.stack (or, in Observed.ComposeVolumes,
// compose's project label only).
type Volume struct {
	Name    string
	Project string
	Stack   string
	Source  string
	Owner   string
	Labels  map[string]string
}
