// Package runtime is moor's container runtime: the Docker Engine behind
// reconcile.Runtime (Docker), and an in-memory stand-in with the same
// observable behaviour for convergence tests (Fake).
//
// Both translate between the engine's vocabulary and the domain's types in
// one place: a container's labels and list status text are parsed by the
// same functions (labels.go) whichever side produced them, so what the fake
// shows the planner is what the engine would.
//
// The adapter speaks Engine API 1.41 (Docker 20.10) and up. Where older
// engines lack a request field, it uses an equivalent that every version
// accepts (see docker_create.go).
package runtime
