// Package compose turns the stacks of a snapshot into moor's desired state.
//
// A stack is a directory holding one compose file. It is loaded with
// compose-go (interpolation, extends, include, profiles, env_file, schema
// validation) and every service is then mapped, field by field, onto
// reconcile.ContainerSpec, moor's own normalized description of a container.
//
// # Rejected, never ignored
//
// Every field of compose-go's ServiceConfig is either mapped into the spec or
// rejected with an error naming the stack, the service and the YAML field.
// The check walks the struct by reflection against an explicit allow-list
// (fields.go), so a field that a newer compose-go learns is rejected until
// someone maps it. Silently dropping a field would run a container that is
// not what the repository says (a missing ipc: host, a placement constraint
// that is not honoured) while every status page reports success; a stack
// that does not load is reported and left as it runs, which is the honest
// outcome. The same rule holds inside nested structures (deploy, network
// attachments, volume options, configs and secrets).
//
// # Bind mounts and their Content
//
// A bind whose source lies inside the snapshot (a relative path such as
// ./nginx.conf resolves against the stack directory) must exist in the
// repository, and its Mount.Content is "sha256:<hex>" of what it holds: the
// file, or the directory tree (sorted relative paths, file modes, contents,
// symlink targets). The snapshot directory moves with every revision, so the
// config hash covers Content instead of the path: the container is replaced
// when the file changes and kept when only the revision does. configs and
// secrets with file: become read-only binds under the same rule. Binds of
// host paths outside the snapshot carry no Content: moor cannot know their
// content, and their path is what the user wrote.
//
// # Environment
//
// Interpolation sees only the stack's own .env file and the variables the
// operator configured (which override .env); moor's own process environment
// never leaks into a stack.
package compose
