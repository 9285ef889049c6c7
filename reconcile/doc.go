// Package reconcile is moor's domain: what a revision wants (Desired), what
// the engine shows (Observed), and the plan that takes one to the other.
//
// # Stages
//
// MakePlan is pure: a function of desired, observed and Constraints (what
// the controller's records add: held services, failed pulls, reported
// drift, an operator's explicit run), with sorted iteration, no I/O and no
// clock. Each Op of the Plan names its resource and its cause and carries
// every decision about how it is carried out: its Steps in order, the Undo
// of each step, the Rollout of a replacement (order, batch, delay, failure
// action), the ops it Needs and the depends_on conditions it Waits for.
// Plan.String is what `moor plan` prints and what tests compare; Plan.Detail
// adds the steps.
//
// Stacks may need others (Stack.DependsOn, from x-moor.depends_on): a
// stack's container ops carry Waits on the services that change of the
// stacks it needs, and those of stacks removed together wait for the
// removal of the stacks that needed them (stackorder.go).
//
// The Executor dispatches a plan through a Runtime: the steps of each op in
// order, the undos of the steps done when one fails, each rollout's batches
// and failure policy. It decides nothing and reads nothing but the plan; it
// waits on a Clock that tests replace.
//
// # Config hash
//
// A container's config hash (LabelConfigHash) is ContainerSpec.Hash: sha256
// over the canonical JSON of moor's own normalized spec, which holds what
// needs a new container to take effect and nothing that does not (replica
// count, depends_on, pull policy, update config, moor's labels). A bind of a
// repository file hashes by content, and a config or secret given inline
// by the digest of its content (File.Content is in no JSON). TestHashGolden
// pins it, so that a library upgrade cannot recreate every container; a
// field added to the spec is omitted when unset, so that it leaves the
// hash of every spec that does not use it alone. The image is compared
// apart: the local image ID of the reference against the container's.
//
// # Lifecycle hooks
//
// compose's post_start and pre_stop (ContainerSpec.PostStart, PreStop) are
// in the hash, as compose's own hash holds them: a changed hook replaces the
// container. The planner adds a StepHook after every start of an op (the
// new container's post_start: a failure fails the replica, and a rollout
// undoes it) and before the stop of a running observed container (the
// pre_stop it was created with, read from LabelPreStop, so that a service
// gone from git is drained too; a failure is a warning of the op, and the
// stop goes on). The executor runs each hook with Runtime.Exec.
//
// # Image updates
//
// In an image-update run (a source's image_updates) the observation also
// holds what the registry names each tag by (Observed.Registry, from
// Runtime.RegistryDigest). A tag whose digest is not among the repo digests
// of the image a container runs gets an OpPull and a replacement of every
// replica, under the service's rollout, as a config change would
// (imageupdate.go). Without that fact the planner compares image IDs only,
// and a tag that moved in its registry changes nothing.
//
// # Builds
//
// A service with a BuildSpec runs an image moor builds on the host. The
// build is content-addressed: BuildSpec.Hash covers the context's files and
// the settings, and the spec's image reference (BuildSpec.Image) names it,
// so the config hash changes exactly when the build does. The planner adds
// an OpBuild, beside the pulls, when no local image of that reference
// carries the hash (LabelBuildHash, Observed.BuildHashes); the service's
// creates and replacements need it, so a failed build stops nothing.
//
// # Jobs
//
// A job (Stack.Jobs) is a service with restart "no" that another of its
// stack depends on with ConditionCompleted. The planner runs it (OpRunJob)
// when its container is missing, its config or image changed, or its last
// run failed; a container of the current config that exited 0 is complete
// and planned no further, so a job runs once per change, whatever the
// polls, drift checks and restarts of moor. A run removes the previous
// container, creates, starts and waits for a new one until it exits
// (StepWaitJob); nothing is undone when it fails, so the failed container
// stays for inspection. Its dependents' ops Wait for it; when it fails
// they are skipped with its *JobError (name, exit code, last output), and
// a job the constraints hold, or that is blocked, holds or blocks the
// dependents that would change.
//
// # Ownership and pruning
//
// The planner considers only resources whose LabelSource is the source's:
// unlabelled containers and other sources' stacks are never touched. Roles
// during a replacement are carried by names (RetiredSuffix,
// CandidateSuffix), since labels cannot change; the planner finishes or
// undoes what an interrupted run left. Named volumes are never removed,
// unless the source prunes them and their whole stack is gone from git.
package reconcile
