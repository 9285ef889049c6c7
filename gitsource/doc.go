// Package gitsource turns a Git repository and a ref into a snapshot: the
// files of one commit, checked out read-only under the source's state
// directory. It is the first step of moor's pipeline (Resolve).
//
// A sync costs one ls-remote when nothing changed: Resolve lists the remote's
// refs and Checkout finds the snapshot of that commit already on disk and
// touches no network at all.
//
// When the commit changed, Checkout never updates an existing clone in place
// (no Worktree.Pull: it fails on force-push and reports no-ops as errors).
// Every new commit is fetched fresh (shallow, one ref, no tags) into a temp
// directory, checked out, stripped of its Git data, made read-only and then
// renamed into place. A rename is atomic, so a snapshot directory either holds
// a whole commit or does not exist; the metadata file snapshots/<commit>.json
// is written last and marks the snapshot complete. A crash (or kill -9) at any
// point leaves only a temp directory or an unmarked snapshot, which Checkout
// redoes and Prune removes. A force-pushed branch is just "a new commit" to a
// fresh clone; IsAncestor tells the controller whether the new tip descends
// from the applied one, so that a rewrite is recorded (and, for a verified
// source, refused). The commit object itself is stored with the snapshot,
// byte for byte, so its signature can be verified without the repository
// (Snapshot.Commit).
//
// Credentials (HTTP basic auth, SSH keys with pinned known_hosts) are built
// from file paths and environment variable names by Credentials.Method;
// host-key failures match ErrHostKey. Watch follows the refs of a
// repository on this host, so that a push triggers a run at once.
//
// Snapshots are immutable and named by commit, so containers created from an
// older revision can keep their bind-mounted files until the controller stops
// referencing that commit and calls Prune.
//
// Errors are classified for the controller: ErrUnreachable (transient:
// network, missing repository, timeout; retry with backoff), ErrRefNotFound
// (stalled: wait for the repository or the configuration to change) and
// ErrAuth (stalled: credentials rejected).
//
// Transport notes (go-git v5.19):
//   - Local paths and file:// URLs use go-git's file transport, which runs the
//     git-upload-pack binary; where it is missing (moor's scratch image), an
//     in-process server takes its place, which refuses shallow fetches, so
//     those fetch the whole history.
//   - ls-remote reports annotated tags' peeled commits ("refs/tags/v1^{}")
//     only with ListOptions.PeelingOption = AppendPeeled; Resolve asks for
//     them. If a server does not advertise the peeled value, Checkout peels the
//     tag after the fetch and its Snapshot carries the real commit.
package gitsource
