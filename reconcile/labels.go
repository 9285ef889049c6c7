package reconcile

// Label keys. Labels are moor's ownership record and its only state store on
// the engine: everything moor creates carries them, and everything moor
// touches must carry LabelStack (invariant 1: a container without it is never
// stopped, changed or removed).
const (
	// LabelStack names the stack (compose project) a resource belongs to.
	LabelStack = "moor.stack"
	// LabelService names the compose service of a container.
	LabelService = "moor.service"
	// LabelRevision is the revision a container was created from,
	// written "main@sha1:<40 hex>".
	LabelRevision = "moor.revision"
	// LabelConfigHash is ContainerSpec.Hash of the spec the container was
	// created from.
	LabelConfigHash = "moor.config-hash"
	// LabelConfigFields is ContainerSpec.FieldDigests: a short digest per
	// field, so a plan can say which fields changed.
	LabelConfigFields = "moor.config-fields"
	// LabelSource names the source (repository + ref + path) that owns the
	// resource.
	LabelSource = "moor.source"
	// LabelOwner is the identity of the moor instance that created or
	// adopted the resource: a random ID kept in its state dir. An instance
	// touches only what carries its own, so two instances on one engine, or
	// an image that carries moor's labels, cannot make it remove anything
	// else.
	LabelOwner = "moor.owner"
	// LabelBuildHash is on the images moor builds (compose's build:):
	// BuildSpec.Hash, over the build context's files and the build's
	// settings. An image that carries the hash a service wants is that
	// build, done before: it is not built again.
	LabelBuildHash = "moor.build-hash"
	// LabelPreStop holds the pre_stop hooks (compose's) of the spec the
	// container was created from, as JSON (EncodeHooks): they are run
	// before it is stopped, whether or not its service is still in git.
	LabelPreStop = "moor.pre-stop"
	// Compose's own labels, so that `docker compose -p STACK ps|logs|exec`
	// see moor's containers.
	LabelComposeProject         = "com.docker.compose.project"
	LabelComposeService         = "com.docker.compose.service"
	LabelComposeContainerNumber = "com.docker.compose.container-number"
	LabelComposeOneoff          = "com.docker.compose.oneoff"
	LabelComposeNetwork         = "com.docker.compose.network"
	LabelComposeVolume          = "com.docker.compose.volume"
	LabelComposeConfigHash      = "com.docker.compose.config-hash"
	LabelComposeWorkingDir      = "com.docker.compose.project.working_dir"
	LabelComposeConfigFiles     = "com.docker.compose.project.config_files"
	LabelComposeVersion         = "com.docker.compose.version"
	LabelComposeDependsOn       = "com.docker.compose.depends_on"
	// LabelComposeImage is the ID of the image a container was created
	// from; the runtime sets it at creation, as compose does.
	LabelComposeImage = "com.docker.compose.image"
)

// ComposeVersion is the docker compose whose labels and config hash moor
// reproduces (com.docker.compose.version).
const ComposeVersion = "2.40.3"

// RetiredSuffix ends the name of an old container kept (stopped, renamed)
// while its replacement starts. The engine cannot change a container's
// labels, so the role is carried by the name: STACK-SERVICE-N-retired. A
// retired container is removed once its replacement runs and renamed back
// and started if the replacement fails, or if moor died in between.
const RetiredSuffix = "-retired"

// CandidateSuffix ends the name of a new container created, not yet started,
// before the container it replaces is stopped: STACK-SERVICE-N-candidate.
// A candidate left by an interrupted run is removed.
const CandidateSuffix = "-candidate"
