package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Desired is what one revision of a source says should run on the host.
type Desired struct {
	// Source is the name of the source the revision came from.
	Source string
	// Owner is the identity of the moor instance that applies it
	// (LabelOwner): what it creates carries it, and it touches nothing
	// that carries another.
	Owner string
	// Revision is the revision, written "main@sha1:<40 hex>".
	Revision string
	// Stacks are the stacks that loaded and validated, by name.
	Stacks map[string]*Stack
	// Broken are the stacks that did not load or validate, by name, with the
	// reason. A broken stack is left running as it is: neither changed nor
	// removed.
	Broken map[string]error
	// PruneVolumes removes the named volumes of a stack removed from git
	// (the source's prune: {volumes: true}); by default they stay.
	PruneVolumes bool
}

// StackNames returns the names of every stack the revision mentions, loaded
// or broken, sorted.
func (d *Desired) StackNames() []string {
	names := slices.Collect(maps.Keys(d.Stacks))
	for n := range d.Broken {
		if _, ok := d.Stacks[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Service returns the service named by "STACK/SERVICE", or nil.
func (d *Desired) Service(key string) *Service {
	stack, service, _ := strings.Cut(key, "/")
	if st, ok := d.Stacks[stack]; ok {
		return st.Services[service]
	}
	return nil
}

// EachService calls fn for every service of every loaded stack, in order.
func (d *Desired) EachService(fn func(stack string, svc *Service)) {
	for _, sn := range slices.Sorted(maps.Keys(d.Stacks)) {
		st := d.Stacks[sn]
		for _, name := range st.ServiceNames() {
			fn(sn, st.Services[name])
		}
	}
}

// Stack is one compose project: a directory of the repository.
type Stack struct {
	Name string
	Dir  string // the stack's directory inside the snapshot (for messages)
	// HostDir is the stack's directory on the host: its compose working
	// directory, where its tracked files are written and its relative
	// binds point.
	HostDir string `json:",omitempty"`
	// File is the stack's compose file's name in it ("compose.yaml").
	File     string `json:",omitempty"`
	Services map[string]*Service
	Networks map[string]*NetworkSpec // by compose key ("default", "backend")
	Volumes  map[string]*VolumeSpec  // by compose key ("data")
	// Files are the tracked files the stack's directory must hold for this
	// revision; nil when the stack has no directory of its own (a plan of
	// a working copy).
	Files *StackFiles `json:",omitempty"`
	// Warnings are what loading the stack noticed without refusing it: a
	// field with no effect on a single host, an unset variable. Each names
	// the service and field; `moor validate` and `moor plan` print them.
	Warnings []string `json:",omitempty"`
	// Claims are the host ports and container names the stack's services
	// hold alone, for the check across the stacks of a revision.
	Claims []Claim `json:"-"`
	// Secrets are the files the stack's binds need decrypted: written to
	// a memory-backed directory before its containers are created, never
	// to disk. A stack with secrets, or whose configuration holds a
	// decrypted value (Redact), is never recorded with its specs.
	Secrets []SecretFile `json:"-"`
	// Redact are the decrypted values the stack's configuration may hold:
	// every message about the stack is scrubbed of them.
	Redact []string `json:"-"`
	// DependsOn are the stacks this one needs (x-moor.depends_on), sorted:
	// they are up before its container ops start, and it is removed before
	// them. Each is a stack of the revision; a cycle is refused at load.
	DependsOn []string `json:",omitempty"`
	// Canary names the hosts that take a change of the stack before the
	// rest of a fleet (x-moor.canary); nil: every host applies it at once.
	Canary *Canary `json:",omitempty"`
}

// SecretFile is a decrypted file a container binds read-only.
type SecretFile struct {
	// Path is where on the host it is bound from: a file in the source's
	// secrets directory, named by Digest.
	Path string
	// Digest is "sha256:<hex>" of Data, as the bind's Mount.Content.
	Digest string
	Data   []byte
	// From names the file of the repository it was decrypted from.
	From string
}

// Sensitive reports whether the stack's configuration holds decrypted
// values.
func (s *Stack) Sensitive() bool { return len(s.Secrets) > 0 || len(s.Redact) > 0 }

// StackFiles are the tracked files of a stack's directory as of one
// revision.
type StackFiles struct {
	Revision string
	// Digest is over the files' paths, modes and content and the
	// directories: equal digests hold the same files.
	Digest string
	// Files are the tracked files: the stack's directory and the files
	// outside it that its binds use, relative to the source's root,
	// slash-separated, sorted.
	Files []string `json:",omitempty"`
	// Dirs are directories binds need that git does not track (./data):
	// made when missing, never emptied.
	Dirs []string `json:",omitempty"`
	// Missing, as observed, are the files and directories written or made
	// before that are gone from the host.
	Missing []string `json:",omitempty"`
}

// ServiceNames returns the stack's service names, sorted.
func (s *Stack) ServiceNames() []string { return slices.Sorted(maps.Keys(s.Services)) }

// Service is one compose service.
type Service struct {
	Name string
	// ContainerName is compose's container_name: the name of the
	// service's one replica instead of STACK-SERVICE-1.
	ContainerName string `json:",omitempty"`
	Replicas      int
	// PullPolicy is one of PullMissing, PullAlways, PullNever, PullBuild.
	PullPolicy string
	DependsOn  map[string]Dependency
	// Update is how replicas are replaced (deploy.update_config). It is
	// not part of the hash: changing it needs no new container.
	Update UpdateConfig
	// Spec is what every replica's container is created from.
	Spec ContainerSpec
	// Hash is Spec.Hash(), computed once when the service is loaded.
	Hash string
	// Compose is what docker compose knows the service by.
	Compose ComposeService `json:",omitempty"`
	// Build, when set, is how moor builds the service's image on the
	// host (compose's build:); Spec.Image is then BuildSpec.Image, which
	// names the build's hash, so the service's Hash changes with it.
	Build *BuildSpec `json:",omitempty"`
	// SecretFields name the compose fields of Spec that hold a decrypted
	// value, so that a change of them is told as "(secret changed)".
	SecretFields []string `json:",omitempty"`
}

// ComposeService is what docker compose v2 records of a service on its
// containers, as moor reproduces it so that compose's own commands work
// on moor's stacks and compose's containers can be adopted.
type ComposeService struct {
	// Hash is com.docker.compose.config-hash: docker compose's hash of the
	// service's configuration, as it computes it for the stack's directory.
	// For a service that shares another's namespace, compose hashes the
	// other's container ID, known when the container is created: Hash is
	// empty and Template holds the JSON compose hashes, with RefPrefix+NAME
	// where service NAME's first container's ID goes (Refs).
	Hash     string   `json:",omitempty"`
	Template string   `json:",omitempty"`
	Refs     []string `json:",omitempty"`
	// DependsOn is com.docker.compose.depends_on.
	DependsOn string `json:",omitempty"`
}

// OneShot reports whether the service is a job that runs to completion: its
// restart policy never restarts a successful exit, so a container that
// exited 0 is complete, not drift.
func (s *Service) OneShot() bool {
	r := s.Spec.Restart
	return r == "" || r == "no" || r == "on-failure" || len(r) > len("on-failure:") && r[:len("on-failure:")] == "on-failure:"
}

// Pull policies (compose's pull_policy, restricted to what moor supports).
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
	// PullBuild: the service's image is built by moor (it has a build
	// section) when no image of its build hash is present; it is never
	// pulled. See BuildSpec.
	PullBuild = "build"
)

// Dependency is one depends_on entry.
type Dependency struct {
	// Condition is one of ConditionStarted, ConditionHealthy, ConditionCompleted.
	Condition string
	Required  bool
	// Restart: the service is restarted after the dependency's containers
	// are replaced (compose's depends_on restart: true).
	Restart bool `json:",omitempty"`
}

// depends_on conditions.
const (
	ConditionStarted   = "service_started"
	ConditionHealthy   = "service_healthy"
	ConditionCompleted = "service_completed_successfully"
)

// NetworkSpec is a network a stack declares (or the implicit default one).
type NetworkSpec struct {
	Key        string // compose key
	Name       string // engine name: STACK_KEY unless name: or external
	External   bool   // must exist; never created or removed by moor
	Driver     string
	DriverOpts map[string]string
	Internal   bool
	Attachable bool
	EnableIPv6 bool
	Labels     map[string]string
	IPAM       *IPAM `json:",omitempty"`
}

// IPAM is a network's address management configuration.
type IPAM struct {
	Driver string
	Config []IPAMPool
}

// IPAMPool is one address pool.
type IPAMPool struct {
	Subnet  string
	Gateway string
	IPRange string
}

// VolumeSpec is a named volume a stack declares.
type VolumeSpec struct {
	Key        string // compose key
	Name       string // engine name: STACK_KEY unless name: or external
	External   bool
	Driver     string
	DriverOpts map[string]string
	Labels     map[string]string
}

// ContainerSpec is moor's own normalized description of a container: the
// single input to its creation and to its config hash. Every field needs a new
// container to take effect; nothing that does not (replicas, depends_on, pull
// policy, moor's labels) is here. Slices whose order does not matter are
// sorted by the loader, so equal configurations give equal specs.
type ContainerSpec struct {
	// Image is the familiar reference with an explicit tag or digest,
	// e.g. "nginx:1.27" or "localhost:5000/app:v2".
	Image      string
	Command    []string          `json:",omitempty"` // nil: the image's
	Entrypoint []string          `json:",omitempty"` // nil: the image's
	Env        []string          `json:",omitempty"` // KEY=VALUE, sorted
	Labels     map[string]string `json:",omitempty"`
	User       string            `json:",omitempty"`
	WorkingDir string            `json:",omitempty"`
	Hostname   string            `json:",omitempty"`
	Domainname string            `json:",omitempty"`
	StopSignal string            `json:",omitempty"`
	// StopGracePeriod is nil for the engine's default.
	StopGracePeriod *time.Duration `json:",omitempty"`
	Ports           []Port         `json:",omitempty"` // sorted
	Expose          []string       `json:",omitempty"` // "80/tcp", sorted
	Mounts          []Mount        `json:",omitempty"` // sorted by Target
	// NetworkMode is "" for compose's networks (Networks), or "host",
	// "none", "container:NAME", or "service:NAME": the network namespace
	// of the stack's service NAME (its first replica), resolved when the
	// container is created.
	NetworkMode string `json:",omitempty"`
	// Links are compose's links ("db", "db:database") to services of the
	// stack, resolved per replica when the container is created; sorted.
	Links []string `json:",omitempty"`
	// ExternalLinks are links to containers outside the stack
	// ("name[:alias]"), sorted.
	ExternalLinks []string `json:",omitempty"`
	// VolumesFrom are compose's volumes_from: "service:NAME" for the
	// stack's service NAME (its first replica, resolved when the container
	// is created) and "container:NAME", in the order written.
	VolumesFrom []string            `json:",omitempty"`
	Networks    []NetworkAttachment `json:",omitempty"` // sorted by Name
	// Restart is "no", "always", "unless-stopped", "on-failure" or
	// "on-failure:N"; "" means "no".
	Restart     string            `json:",omitempty"`
	Healthcheck *Healthcheck      `json:",omitempty"`
	CapAdd      []string          `json:",omitempty"`
	CapDrop     []string          `json:",omitempty"`
	ExtraHosts  []string          `json:",omitempty"` // "host:ip", sorted
	DNS         []string          `json:",omitempty"`
	DNSSearch   []string          `json:",omitempty"`
	DNSOptions  []string          `json:",omitempty"`
	Sysctls     map[string]string `json:",omitempty"`
	Ulimits     []Ulimit          `json:",omitempty"` // sorted by Name
	Logging     *Logging          `json:",omitempty"`
	Init        *bool             `json:",omitempty"`
	ReadOnly    bool              `json:",omitempty"`
	SecurityOpt []string          `json:",omitempty"`
	Privileged  bool              `json:",omitempty"`
	Devices     []Device          `json:",omitempty"`
	Tmpfs       []string          `json:",omitempty"` // "/path[:opts]", sorted
	Resources   Resources         `json:",omitempty"`
	ShmSize     int64             `json:",omitempty"`
	Tty         bool              `json:",omitempty"`
	StdinOpen   bool              `json:",omitempty"`

	// Fields below were added after the ones above; each is omitted when
	// unset so that the hash of a spec that does not use it is unchanged.

	// Platform is compose's platform ("linux/arm64"): the image is pulled
	// and the container created for it.
	Platform string `json:",omitempty"`
	// Runtime is the OCI runtime ("runc", "runsc"), "" for the engine's.
	Runtime string `json:",omitempty"`
	// Ipc, Pid, Uts, UsernsMode and Cgroup are the namespace modes as
	// compose passes them: "host", "private", "shareable",
	// "container:NAME", ...; Ipc and Pid may also be "service:NAME", as
	// NetworkMode.
	Ipc        string `json:",omitempty"`
	Pid        string `json:",omitempty"`
	Uts        string `json:",omitempty"`
	UsernsMode string `json:",omitempty"`
	Cgroup     string `json:",omitempty"`
	// GroupAdd are supplementary groups, sorted.
	GroupAdd    []string          `json:",omitempty"`
	OomScoreAdj int64             `json:",omitempty"`
	StorageOpt  map[string]string `json:",omitempty"`
	// MacAddress is the container's MAC address on its primary network.
	MacAddress string `json:",omitempty"`
	Isolation  string `json:",omitempty"`
	// DeviceCgroupRules are cgroup rules ("c 1:3 mr"), in order.
	DeviceCgroupRules []string `json:",omitempty"`
	// DeviceRequests are gpus and deploy.resources.reservations.devices,
	// in that order.
	DeviceRequests []DeviceRequest `json:",omitempty"`
	Blkio          *Blkio          `json:",omitempty"`
	// Annotations are OCI annotations of the container (API 1.43).
	Annotations map[string]string `json:",omitempty"`
	// Files are configs and secrets whose content the compose file gives
	// (content:, environment:), written into the container between its
	// creation and its start, as compose does; sorted by Target.
	Files []File `json:",omitempty"`
	// PostStart and PreStop are compose's lifecycle hooks, run in the
	// container after each start and before a stop. compose's config hash
	// covers them, so a change replaces the container, as compose
	// recreates it.
	PostStart []Hook `json:",omitempty"`
	PreStop   []Hook `json:",omitempty"`
}

// File is one file written into a container after its creation.
type File struct {
	Target string
	// Digest is "sha256:<hex>" of Content. The hash covers the digest:
	// Content itself is in no JSON (not in the hash, the desired state
	// moor records, nor the ledger), as it may be a secret.
	Digest  string
	Mode    uint32 `json:",omitempty"` // permission bits; 0 for 0444
	UID     string `json:",omitempty"`
	GID     string `json:",omitempty"`
	Content string `json:"-"`
}

// DeviceRequest asks the engine for devices from a driver (GPUs).
type DeviceRequest struct {
	Driver       string            `json:",omitempty"`
	Count        int64             `json:",omitempty"` // -1: all
	DeviceIDs    []string          `json:",omitempty"`
	Capabilities []string          `json:",omitempty"`
	Options      map[string]string `json:",omitempty"`
}

// Blkio is compose's blkio_config.
type Blkio struct {
	Weight          uint16           `json:",omitempty"`
	WeightDevice    []WeightDevice   `json:",omitempty"`
	DeviceReadBps   []ThrottleDevice `json:",omitempty"`
	DeviceReadIOps  []ThrottleDevice `json:",omitempty"`
	DeviceWriteBps  []ThrottleDevice `json:",omitempty"`
	DeviceWriteIOps []ThrottleDevice `json:",omitempty"`
}

// WeightDevice is the relative block IO weight of one device.
type WeightDevice struct {
	Path   string
	Weight uint16
}

// ThrottleDevice caps the block IO rate of one device.
type ThrottleDevice struct {
	Path string
	Rate uint64
}

// Port is one published port.
type Port struct {
	Target    uint32
	Published string `json:",omitempty"` // "8080" or "8080-8081"; "" lets the engine pick
	HostIP    string `json:",omitempty"`
	Protocol  string // "tcp" or "udp"
}

// Mount types.
const (
	MountVolume = "volume"
	MountBind   = "bind"
	MountTmpfs  = "tmpfs"
)

// Mount is one volume, bind or tmpfs mount.
type Mount struct {
	Type string
	// Source is the engine volume name for MountVolume (empty for an
	// anonymous volume), the absolute host path for MountBind.
	Source   string `json:",omitempty"`
	Target   string
	ReadOnly bool `json:",omitempty"`
	// Content, for a bind of a file or directory inside the repository
	// (including configs and secrets from files), is "sha256:<hex>" of what
	// it holds. The hash then covers Content and not Source, because the
	// snapshot directory moves with every revision while the content may
	// not change.
	Content   string `json:",omitempty"`
	TmpfsSize int64  `json:",omitempty"`
	TmpfsMode uint32 `json:",omitempty"`
	// NoCopy disables copying image content into a new volume.
	NoCopy bool `json:",omitempty"`
	// Bind propagation, "" for the default.
	Propagation string `json:",omitempty"`
	// CreateHostPath creates a missing bind source (compose's default).
	CreateHostPath bool `json:",omitempty"`
	// Legacy: the engine is given the mount in HostConfig.Binds
	// ("SRC:DST:rw"), not HostConfig.Mounts, as docker compose gives it: a
	// bind or named volume without an option that needs the mount API. It
	// changes how the container is described, not what it mounts, and is
	// not hashed.
	Legacy bool `json:",omitempty"`

	// Added later, each omitted when unset (see ContainerSpec).

	// SELinux is a bind's relabelling: "z" (shared) or "Z" (private).
	SELinux string `json:",omitempty"`
	// Recursive is a bind's bind.recursive: "enabled" (""), "disabled",
	// "writable" or "readonly".
	Recursive string `json:",omitempty"`
	// Subpath mounts a directory of a volume.
	Subpath string `json:",omitempty"`
	// VolumeLabels label a volume the mount creates.
	VolumeLabels map[string]string `json:",omitempty"`
}

// NetworkAttachment attaches a container to one network.
type NetworkAttachment struct {
	Name        string   // engine name
	Aliases     []string `json:",omitempty"` // sorted, without the service name
	IPv4Address string   `json:",omitempty"`
	IPv6Address string   `json:",omitempty"`
	Priority    int      `json:",omitempty"`
}

// Healthcheck mirrors the engine's health configuration.
type Healthcheck struct {
	Test          []string      // ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"]
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// Ulimit is one resource limit.
type Ulimit struct {
	Name string
	Soft int64
	Hard int64
}

// Logging is the container's log driver.
type Logging struct {
	Driver  string
	Options map[string]string `json:",omitempty"`
}

// Device maps a host device into the container.
type Device struct {
	Host        string
	Container   string
	Permissions string `json:",omitempty"`
}

// Resources are deploy.resources.limits (and the service-level equivalents).
type Resources struct {
	NanoCPUs    int64 `json:",omitempty"`
	MemoryBytes int64 `json:",omitempty"`
	// MemoryReservation is deploy.resources.reservations.memory.
	MemoryReservation int64  `json:",omitempty"`
	PidsLimit         int64  `json:",omitempty"`
	CPUShares         int64  `json:",omitempty"`
	CPUSet            string `json:",omitempty"`
	// Added later, each omitted when unset (see ContainerSpec).
	CgroupParent string `json:",omitempty"`
	// MemorySwap is memswap_limit: memory plus swap, -1 for unlimited.
	MemorySwap int64 `json:",omitempty"`
	// MemorySwappiness is mem_swappiness; 0 leaves the engine's default,
	// as compose does.
	MemorySwappiness int64 `json:",omitempty"`
	OomKillDisable   bool  `json:",omitempty"`
	CPUCount         int64 `json:",omitempty"`
	// CPUPercent is compose's cpu_percent times 100, as compose passes it.
	CPUPercent         int64 `json:",omitempty"`
	CPUPeriod          int64 `json:",omitempty"`
	CPUQuota           int64 `json:",omitempty"`
	CPURealtimePeriod  int64 `json:",omitempty"`
	CPURealtimeRuntime int64 `json:",omitempty"`
}

// ContainerName is compose's name for replica n of a service: STACK-SERVICE-N.
func ContainerName(stack, service string, n int) string {
	return fmt.Sprintf("%s-%s-%d", stack, service, n)
}

// RefPrefix marks, in ComposeService.Template, where the container ID of
// the service named after it goes.
const RefPrefix = "moor-ref:"

// HashWith is compose's hash given the IDs of the first containers of the
// services it refers to (by service name); "" when one is missing.
func (c ComposeService) HashWith(ids map[string]string) string {
	if c.Template == "" {
		return c.Hash
	}
	tpl := c.Template
	for _, ref := range c.Refs {
		id, ok := ids[ref]
		if !ok || id == "" {
			return ""
		}
		tpl = strings.ReplaceAll(tpl, RefPrefix+ref+`"`, id+`"`)
	}
	sum := sha256.Sum256([]byte(tpl))
	return hex.EncodeToString(sum[:])
}

// ReplicaName is the name of replica n of svc: its container_name, or
// STACK-SERVICE-N.
func (s *Service) ReplicaName(stack string, n int) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return ContainerName(stack, s.Name, n)
}
