// Package secrets reads files that SOPS encrypted, with age and OpenPGP
// keys, in memory.
//
// A SOPS file keeps its structure in the clear and encrypts each value with
// AES-256-GCM under a data key, the value's path in the document being the
// additional data ("db:password:"). The data key is stored once per
// recipient: an age file for each age recipient, an OpenPGP message for each
// PGP key. A message authentication code (the SHA-512 of every value in
// order, itself encrypted with the data key and the file's lastmodified
// time) makes a file whose values were changed, dropped or reordered without
// the key fail to decrypt.
//
// moor reads the format itself, as SOPS documents and writes it, with
// filippo.io/age and ProtonMail's OpenPGP: the SOPS library's decryption
// links every cloud key service it supports (a binary three times moor's
// size, with twice moor's start-up time spent in its package inits), and
// moor uses none of them. The tests check this reader against files the
// sops command encrypted.
//
// Four of SOPS's formats are read, chosen by the file's name as sops
// chooses them: dotenv (.env), YAML (.yaml, .yml), JSON (.json), and
// binary (any other name: the whole file is the value "data" of a JSON
// document). Decrypt returns what `sops -d` prints: for dotenv and binary
// the same bytes, for YAML and JSON the same document (comments of YAML
// dropped, its layout moor's). Key groups split with Shamir's scheme, and
// keys held by a cloud service (KMS, Vault), are refused with what the file
// is encrypted for.
//
// Marked (in the package's Rules) says which files of a repository must be
// encrypted: those matching a creation rule's path_regex in the
// repository's .sops.yaml, sops's own configuration. Check tells, without a
// key, whether a file is a SOPS file at all, so that a plaintext secret
// committed by mistake is refused before it is deployed.
//
// Nothing of a decrypted value is ever put into an error: messages name
// the file, the path of a value in it, the recipients and the key files.
package secrets
