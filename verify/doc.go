// Package verify decides whether a commit may be applied to the host, by
// checking that it carries a valid signature from a trusted key.
//
// # Why the commit to be applied
//
// A deploy repository is the keys to the host: whoever can push to it can
// run any container with any mount. Transport security (HTTPS, SSH host
// keys) only proves which server moor talked to, not who wrote what it
// served; a compromised forge, a leaked deploy token or a force-push all
// deliver well-formed commits. So moor checks the one commit it is about to
// converge to — the tip it resolved — and nothing else. That commit's
// signature covers its tree hash, and the tree hash covers every file moor
// reads, so a good signature on it vouches for the whole desired state at
// that revision. Signatures on earlier commits are not needed and not
// enough: history is not applied, only the tip is, and a trusted old commit
// says nothing about an untrusted new one on top of it.
//
// # What a signer is
//
// A signer is a key in the source's trust set, not a name in the commit.
// Author and committer lines are free text anyone can type; the trust set is
// what the operator configured in the source's verify: block:
//
//   - OpenPGP: armored public key files. The signer is the primary key's
//     fingerprint and its primary user ID. A signature by any signing subkey
//     of a listed key counts; a revoked or expired key does not.
//   - SSH (git's gpg.format=ssh): an allowed-signers file in the format git
//     and ssh-keygen use. The signer is the key's SHA256 fingerprint and the
//     principals of its line. As with git and ssh-keygen, the first line
//     for the key whose valid-after/valid-before window admits the
//     committer date decides, and its namespaces option, if any, must admit
//     "git". The committer date is the signer's own claim: a valid-before
//     retires a key for new commits but cannot stop a holder of the old
//     key from backdating one.
//
// # Outcomes
//
// Commit returns a Result naming the signer, or an error matching one of
// ErrUnsigned, ErrUntrusted or ErrBadSignature with errors.Is. All three are
// stalled conditions in moor's sense: retrying the same revision cannot
// change the answer, so the controller reports it and waits for a new
// revision or a new policy.
package verify
