// Package swarm deploys a source's stacks as Docker Swarm services on the
// swarm the local engine manages: the runtime of a source with
// `runtime: swarm`.
//
// It has the same four stages as the single-host runtime, with Swarm's
// objects in place of containers:
//
//   - Map (desired.go, spec.go) turns each stack loaded by
//     compose.LoadSwarm into services, networks, configs and secrets named
//     and labelled as `docker stack deploy` names and labels them
//     (STACK_SERVICE, STACK_default, com.docker.stack.namespace), plus
//     moor's own labels. Every compose field is mapped or refused by name
//     (fields.go); nothing is ignored silently.
//   - Observe (engine.go) lists the swarm's services and networks (a name
//     a stack wants held by another's is a conflict), and the configs,
//     secrets and this node's volumes of stacks: one list call per kind.
//   - Plan (planner.go) is a pure function of the two. It compares each
//     service field by field (digest.go) on what Swarm stores, so a
//     service changed by hand is drift that the next run puts back, and
//     its causes name the fields that changed.
//   - Apply (apply.go) carries the plan out through the Engine's service
//     API, up to four services at a time, and then checks that each service's tasks run the new spec and
//     are healthy; an update Swarm rolled back (update_config
//     failure_action: rollback, moor's default) fails its op.
//
// Configs and secrets are immutable in Swarm: each is named with a digest
// of its content (STACK_KEY-DIGEST), so a changed one is a new object the
// updated service switches to; the old one is removed once no desired
// service uses it.
//
// Plans are reconcile.Plan values with the Swarm op kinds
// (reconcile.OpCreateService, ...), so the controller's ledger, status,
// API and dashboard take them as they are.
package swarm
