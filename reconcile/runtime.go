package reconcile

import (
	"context"
	"errors"
	"time"
)

// Runtime is what moor needs from a container engine, in moor's own types.
// Implementations: runtime.Docker (the Docker Engine) and runtime.Fake.
//
// Every method is idempotent where the contract says so, so that a run
// interrupted at any step can be repeated.
type Runtime interface {
	// Observe lists every container, network and volume that carries
	// LabelStack, and every local image: one list call per kind, no inspect
	// per container.
	Observe(ctx context.Context) (*Observed, error)

	// Pull pulls ref (familiar form, "nginx:1.27") with the registry
	// credentials the Docker CLI would use, for platform ("linux/arm64";
	// "" for the engine's own). Pulling a present image is allowed and
	// refreshes it.
	Pull(ctx context.Context, ref, platform string) error
	// RegistryDigest asks ref's registry which manifest the tag ref
	// ("registry:5000/app:1") names now, without pulling it, with the
	// credentials Pull uses. It returns the digest ("sha256:…") that a
	// pull of ref would record for the image (Observed.Images holds it as
	// "registry:5000/app@sha256:…"). It changes nothing, so it may be
	// called any number of times; a tag the registry does not have is
	// ErrNotFound.
	RegistryDigest(ctx context.Context, ref string) (string, error)
	// Build builds spec.Image from the files of spec's context (sent only
	// if they still hash to spec.ContextDigest), tags it spec.Image and
	// spec.Tags, and labels it LabelBuildHash=spec.Hash. Building an image
	// that is present builds it again (the builder's cache makes that
	// cheap) and moves its tags. A failed build changes no tag; its error
	// carries the last lines of the build's output.
	Build(ctx context.Context, spec BuildSpec) error

	// CreateNetwork creates the network with the given labels. A network of
	// that name that already exists is success.
	CreateNetwork(ctx context.Context, spec NetworkSpec, labels map[string]string) error
	// RemoveNetwork removes a network by name. An absent network is success.
	RemoveNetwork(ctx context.Context, name string) error
	// CreateVolume creates the named volume. An existing one is success.
	CreateVolume(ctx context.Context, spec VolumeSpec, labels map[string]string) error
	// RemoveVolume removes a named volume and its data. An absent volume is
	// success; one in use is an error.
	RemoveVolume(ctx context.Context, name string) error

	// CreateContainer creates (does not start) a container named name from
	// spec, with labels added to spec.Labels, attached to every network in
	// spec.Networks under its aliases and its service's name (LabelService),
	// so other containers reach it by them. A candidate (name ending in
	// CandidateSuffix) is attached without aliases: it gets no traffic
	// until Expose. It fails with ErrConflict if the name is taken.
	CreateContainer(ctx context.Context, name string, spec ContainerSpec, labels map[string]string) (id string, err error)
	// Expose gives a container created as a candidate its network aliases,
	// its service's name and name, the name it goes by once renamed into
	// place, on every network of spec, so that it starts getting traffic.
	Expose(ctx context.Context, id, name string, spec ContainerSpec, service string) error
	// StartContainer starts a container. A running one is success.
	StartContainer(ctx context.Context, id string) error
	// StopContainer stops a container, waiting at most grace (nil: the
	// container's own stop timeout) before killing it. A stopped one is success.
	StopContainer(ctx context.Context, id string, grace *time.Duration) error
	// RemoveContainer force-removes a container and its anonymous volumes,
	// never named ones. An absent container is success.
	RemoveContainer(ctx context.Context, id string) error
	// RenameContainer renames a container. Fails with ErrConflict if the new
	// name is taken.
	RenameContainer(ctx context.Context, id, name string) error
	// InspectContainer returns the current state of one container, with
	// ExitCode and Health exact. ErrNotFound if it does not exist.
	InspectContainer(ctx context.Context, id string) (Container, error)
	// Logs returns the last n lines of the container's output (all for
	// n <= 0), stdout and stderr as written, and at most their last
	// MaxLogBytes bytes: a line as long as the log is cut, not read whole
	// into memory. ErrNotFound if the container does not exist.
	Logs(ctx context.Context, id string, n int) (string, error)
	// Exec runs hook's command in the running container id, as hook's
	// user, privileged or not, in its working directory (the container's
	// when empty), with hook's environment added to the container's; it
	// waits for the command to exit and returns its exit code and the end
	// of its output (ExecOutputMax). A command that exits non-zero is a
	// result, not an error. It is not idempotent: each call runs the
	// command again. A container that does not run is ErrConflict; an
	// absent one ErrNotFound.
	Exec(ctx context.Context, id string, hook Hook) (ExecResult, error)
}

// MaxLogBytes bounds what Runtime.Logs returns.
const MaxLogBytes = 64 << 10

// Files is what moor needs of the host's file system: each stack's
// persistent directory (the stack's compose working directory), where
// the tracked files of a revision are written beside whatever the stack's
// containers write. Implementation: stackdir.Dirs; tests use a map.
type Files interface {
	// ObserveFiles returns what each stack directory of the source holds,
	// by stack: the revision and digest of the tracked files last written.
	ObserveFiles(ctx context.Context) (map[string]StackFiles, error)
	// SyncFiles makes the stack's directory hold want: its files written
	// from want.Revision (unchanged ones left alone), its directories made,
	// files written before that want no longer has removed. It never
	// touches a file it did not write. It is idempotent.
	SyncFiles(ctx context.Context, stack string, want StackFiles) error
}

// Errors a Runtime returns (wrapped) so callers can tell them apart.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)
