package reconcile

import (
	"fmt"
	"strings"
	"time"
)

// StepKind is one engine call, or one wait, of an op.
type StepKind int

// Step kinds.
const (
	StepPull          StepKind = iota + 1 // pull Image
	StepCreateNetwork                     // create Network with Labels
	StepCreateVolume                      // create Volume with Labels
	StepRemoveNetwork                     // remove Network
	StepRemoveVolume                      // remove Volume
	StepCreate                            // create the op's new container, Name, from Spec with Labels
	StepStart                             // start the container
	StepReady                             // wait until the container counts as up (Ready)
	StepExpose                            // give the container its aliases on Spec's networks
	StepStop                              // stop the container within Grace
	StepRename                            // rename the container from Name to To
	StepRemove                            // force-remove the container
	StepSyncFiles                         // make Stack's directory hold Files
	StepBuild                             // build Image from Build
	StepHook                              // run Hooks (compose's Hook) in the container
	StepWaitJob                           // wait until the job's container exits (0 is success); stop it past the executor's JobTimeout
)

var stepNames = map[StepKind]string{
	StepPull: "pull", StepCreateNetwork: "create-network", StepCreateVolume: "create-volume",
	StepRemoveNetwork: "remove-network", StepRemoveVolume: "remove-volume",
	StepCreate: "create", StepStart: "start", StepReady: "wait", StepExpose: "expose",
	StepStop: "stop", StepRename: "rename", StepRemove: "remove", StepSyncFiles: "sync-files",
	StepBuild: "build", StepHook: "hook", StepWaitJob: "wait-job",
}

func (k StepKind) String() string {
	if s, ok := stepNames[k]; ok {
		return s
	}
	return fmt.Sprintf("step(%d)", int(k))
}

// onContainer reports whether steps of kind k act on an existing container.
func (k StepKind) onContainer() bool { return k >= StepStart && k <= StepRemove || k == StepHook }

// Step is one engine call of an op. Container steps act on an observed
// container (Container is its ID) or on the container the op creates
// (Container is empty; StepCreate makes it).
type Step struct {
	Kind StepKind
	// Container is the ID of the observed container the step acts on, or
	// "" for the op's new container.
	Container string
	// Name is the container's name when the step runs (for StepCreate, the
	// name it is created with).
	Name string
	// To is the new name (StepRename).
	To string
	// Spec is what the container is created from (StepCreate), or whose
	// networks it is exposed on (StepExpose).
	Spec *ContainerSpec
	// Labels are added to the created container, network or volume.
	Labels map[string]string
	// ComposeTemplate and ComposeRefs (StepCreate): compose's hash of a
	// service that shares another's namespace, computed when the step runs
	// from the IDs of the containers named in ComposeRefs (by service).
	ComposeTemplate ComposeService
	ComposeRefs     map[string]string
	// Leftover (StepCreate): a container that already holds Name and
	// carries the LabelOwner and LabelSource of Labels is what a create of
	// an interrupted run of this instance left, completed by the engine
	// after that run last looked: it is removed, and the create made again.
	Leftover bool
	// Service is the name the container answers to (StepExpose), or the
	// job StepWaitJob waits for, of Stack.
	Service string
	// Ready says when the container counts as up (StepReady).
	Ready *Ready
	// Grace bounds a stop; nil: the container's own stop timeout.
	Grace *time.Duration
	// Image, Network, Volume: what StepPull, StepCreateNetwork,
	// StepCreateVolume, StepRemoveNetwork and StepRemoveVolume act on.
	Image string
	// Platform is the platform StepPull pulls Image for, "" for the
	// engine's own.
	Platform string `json:",omitempty"`
	Network  *NetworkSpec
	Volume   *VolumeSpec
	// Build is what StepBuild builds Image from.
	Build *BuildSpec
	// Stack and Files: the stack directory StepSyncFiles makes hold Files.
	// StepWaitJob: the job's stack.
	Stack string
	Files *StackFiles
	// Hook is HookPostStart or HookPreStop, and Hooks are what StepHook
	// runs, in order, in the container. With Tolerate, a hook that fails
	// is reported on the op, which goes on.
	Hook     string `json:",omitempty"`
	Hooks    []Hook `json:",omitempty"`
	Tolerate bool   `json:",omitempty"`
	// Deferred steps run once the op's whole rollout succeeded, not with
	// the others: the old container of a replaced replica stays (stopped,
	// retired) until then, so that rolling back is a rename and a start.
	Deferred bool
	// Undo puts back what this step changed. When a later step of the op
	// fails, or the rollout rolls the replica back, the undos of the steps
	// done run in reverse order. Every undo step is idempotent.
	Undo []Step
}

// String renders the step as `moor plan --steps` prints it.
func (s Step) String() string {
	var out string
	switch s.Kind {
	case StepPull:
		out = "pull " + s.Image
		if s.Platform != "" {
			out += " for " + s.Platform
		}
	case StepBuild:
		out = fmt.Sprintf("build %s from %s", s.Image, s.Build.Context)
		if s.Build.DockerfileInline != "" {
			out += " (dockerfile_inline)"
		} else {
			out += " (" + s.Build.Dockerfile + ")"
		}
	case StepCreateNetwork, StepRemoveNetwork:
		out = s.Kind.String() + " " + s.Network.Name
	case StepCreateVolume, StepRemoveVolume:
		out = s.Kind.String() + " " + s.Volume.Name
	case StepReady:
		out = fmt.Sprintf("wait %s ready (%s)", s.Name, s.Ready)
	case StepWaitJob:
		out = fmt.Sprintf("wait %s exited 0", s.Name)
	case StepSyncFiles:
		out = fmt.Sprintf("sync-files %s to %s (%d files)", s.Stack, shortRevision(s.Files.Revision), len(s.Files.Files))
	case StepRename:
		out = fmt.Sprintf("rename %s -> %s", s.Name, s.To)
	case StepHook:
		out = hookString(s)
	case StepStop:
		out = "stop " + s.Name
		if s.Grace != nil {
			out += fmt.Sprintf(" within %s", *s.Grace)
		}
	default:
		out = s.Kind.String() + " " + s.Name
	}
	if s.Deferred {
		out += " once the rollout succeeded"
	}
	return out
}

// Ready says when a started container counts as up.
type Ready struct {
	// Health: the container has a healthcheck and must report healthy.
	Health bool
	// Job: the service is a job; an exit with code 0 counts as done.
	Job bool
	// Monitor is how long a container without a healthcheck must keep
	// running, without a restart, to count as up; 0 counts it up once it
	// runs.
	Monitor time.Duration
}

func (r Ready) String() string {
	var s string
	switch {
	case r.Health:
		s = "healthy"
	case r.Monitor > 0:
		s = fmt.Sprintf("running %s without a restart", r.Monitor)
	default:
		s = "running"
	}
	if r.Job {
		s += ", or exited 0"
	}
	return s
}

// Wait is a depends_on condition a service's ops wait for: the dependency's
// ops in the same plan are done, and its replicas meet the condition.
type Wait struct {
	Service string // the dependency, in the same stack unless Stack is set
	// Stack, when set, is another stack the dependency is in: a stack
	// this one needs (x-moor.depends_on) or, for the removal of a stack,
	// one that needed it (Condition ConditionRemoved).
	Stack      string `json:",omitempty"`
	Condition  string // ConditionStarted, ConditionHealthy, ConditionCompleted or ConditionRemoved
	Required   bool
	Containers []string // the dependency's replicas, by name
	// Job: the dependency is a job that runs in this plan.
	Job bool `json:",omitempty"`
}

func (w Wait) String() string {
	s := fmt.Sprintf("%s is %s", w.Service, strings.TrimPrefix(w.Condition, "service_"))
	if w.Stack != "" {
		s = "stack " + w.Stack + ": " + s
	}
	if !w.Required {
		s += " (not required)"
	}
	return s
}

// Rollout is how the replacements of one service are carried out: compose's
// deploy.update_config, resolved by the planner into an order, a batch for
// each replica, and what to do when replicas fail.
type Rollout struct {
	// Order is OrderStartFirst or OrderStopFirst.
	Order string `json:"order"`
	// Batch is this replica's batch (from 1), of Batches; the replicas of
	// one batch are replaced at once.
	Batch   int `json:"batch"`
	Batches int `json:"batches"`
	// Delay is the pause before every batch but the first.
	Delay time.Duration `json:"delay_ns,omitempty"`
	// FailureAction is what happens once more than MaxFailures replicas of
	// the rollout failed: FailureRollback, FailurePause or FailureContinue.
	FailureAction string `json:"failure_action"`
	MaxFailures   int    `json:"max_failures,omitempty"`
	// Replicas is how many replicas the rollout replaces.
	Replicas int `json:"replicas"`
}

// String renders the rollout as `moor plan` appends it to a replace:
// "[start-first, batch 1/2, rollback on failure]".
func (r Rollout) String() string {
	batch := fmt.Sprintf("batch %d/%d", r.Batch, r.Batches)
	if r.Delay > 0 && r.Batch > 1 {
		batch += fmt.Sprintf(" after %s", r.Delay)
	}
	failure := r.FailureAction + " on failure"
	if r.MaxFailures > 0 {
		failure = fmt.Sprintf("%s past %d failed", r.FailureAction, r.MaxFailures)
	}
	return fmt.Sprintf("[%s, %s, %s]", r.Order, batch, failure)
}

// StepID names step i of op within a plan: "replace web/api/1 #5".
func StepID(op Op, i int) string {
	return fmt.Sprintf("%s %s #%d", op.Kind, op.Resource, i+1)
}

// shortRevision turns "main@sha1:<40 hex>" into "main@abcdef1".
func shortRevision(rev string) string {
	ref, sha, ok := strings.Cut(rev, "@sha1:")
	if !ok || len(sha) < 7 {
		return rev
	}
	return ref + "@" + sha[:7]
}
