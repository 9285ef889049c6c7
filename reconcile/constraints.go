package reconcile

// Constraints are what, besides desired and observed state, decides a
// plan: facts the controller knows from its own records and from what it
// did before planning. They are explicit inputs so that the plan stays a
// pure function and desired state is never edited to carry them.
type Constraints struct {
	// Held are services whose rollout to this revision failed recently and
	// whose retry is not due, by "STACK/SERVICE", with why. A controller
	// run leaves them as they run.
	Held map[string]string
	// FailedPulls are images whose pull before planning (pull_policy
	// always) failed, by reference, with why. The services that use them
	// are blocked.
	FailedPulls map[string]string
	// ReportDrift: the host was converged to this very revision and the
	// source reports drift rather than repairing it (drift: report). What
	// differs goes to Plan.Drift instead of Plan.Ops.
	ReportDrift bool
	// AdoptUnowned: containers, networks and volumes of the source that
	// carry no LabelOwner were made by this instance before owners were
	// recorded, and are its own (unless their image carries moor's labels).
	// A new instance does not adopt them.
	AdoptUnowned bool
	// Adopt: the source takes over the containers of a compose project
	// named as one of its stacks that carry no moor labels (adopt: true).
	// Without it they are a conflict, never touched.
	Adopt bool
	// Adopted are the containers docker compose made that this instance
	// took over, by ID: its own, with compose's labels only.
	Adopted map[string]bool
	// RanBefore are the stacks this instance converged on this host before,
	// by name: a volume or a stack directory they lack is data that should
	// be there, and the plan warns when it makes them anew.
	RanBefore map[string]bool
	// StackNeeds are the stacks each stack needed (x-moor.depends_on) as
	// of the last revision that held it, by name: a stack removed from git
	// is removed after the removed stacks that needed it.
	StackNeeds map[string][]string
	// Suspended are the stacks the operator suspended (moor suspend), by
	// name, with why; the key "" suspends every stack of the source. Their
	// ops, and those of the stacks that need them, go to Plan.Waiting:
	// nothing of them changes on the host.
	Suspended map[string]string
	// Canary are the stacks whose change waits for their canary hosts
	// (x-moor.canary) to report it healthy, by name, with why: their ops,
	// and those of the stacks that need them, go to Plan.Waiting.
	Canary map[string]string
	// Window, when not "", says that the source's deploy window is closed
	// ("waiting for window (opens at T)"): every op goes to Plan.Waiting.
	Window string
	// Explicit is an operator's apply (`moor apply`, `moor plan`): held
	// services are retried and reported drift is repaired now, and the
	// plan notes it.
	Explicit bool
}
