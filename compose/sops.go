package compose

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/secrets"
)

// Secrets are how a stack's SOPS-encrypted files are read.
type Secrets struct {
	// Keys decrypt the files; nil decrypts nothing.
	Keys *secrets.Keys
	// Dir is the host directory, memory-backed, that decrypted files are
	// bound from (the source's part of the secrets directory). It names
	// the binds; the controller writes the files.
	Dir string
	// Unkeyed checks a stack without a key (moor validate): encrypted
	// files are checked to be SOPS files moor can read, a dotenv's
	// encrypted values are read as empty, and nothing is decrypted.
	Unkeyed bool
}

// maxSecretBytes caps a file a bind decrypts.
const maxSecretBytes = 1 << 20

// sopsFiles decrypts what one stack reads, and keeps what it decrypted.
type sopsFiles struct {
	opts  Secrets
	repo  string // the repository's root, where .sops.yaml is
	rules *secrets.Rules
	// values are the decrypted values of dotenv files, and files holds
	// the decrypted files binds use.
	values []string
	files  []reconcile.SecretFile
}

// newSopsFiles reads the repository's .sops.yaml, if any.
func newSopsFiles(r *repo, repoDir string, opts Secrets) (*sopsFiles, error) {
	s := &sopsFiles{opts: opts, repo: repoDir}
	p := filepath.Join(repoDir, ".sops.yaml")
	data, err := r.read(p, 1<<16)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf(".sops.yaml: %w", describe(err))
	}
	if s.rules, err = secrets.ParseRules(data); err != nil {
		return nil, fmt.Errorf(".sops.yaml: %w", err)
	}
	return s, nil
}

func (s *sopsFiles) rel(p string) string {
	rel, err := filepath.Rel(s.repo, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

// marked refuses a file in the clear that .sops.yaml says is encrypted.
func (s *sopsFiles) marked(p string) error {
	if re, ok := s.rules.Marked(s.rel(p)); ok {
		return fmt.Errorf("is not encrypted, but .sops.yaml says files matching %q are: encrypt it with sops before committing it", re)
	}
	return nil
}

// env returns a dotenv file (.env, env_file, label_file) in the clear,
// decrypted when sops encrypted it.
func (s *sopsFiles) env(p string, data []byte) ([]byte, bool, error) {
	if !secrets.Encrypted(data, secrets.Dotenv) {
		return data, false, s.marked(p)
	}
	if s.opts.Unkeyed {
		if err := secrets.Check(data, secrets.Dotenv); err != nil {
			return nil, true, fmt.Errorf("sops: %w", err)
		}
		blank, err := secrets.Blank(data)
		return blank, true, err
	}
	plain, err := secrets.Decrypt(data, secrets.Dotenv, s.opts.Keys)
	if err != nil {
		return nil, true, fmt.Errorf("sops: %w", err)
	}
	for _, line := range strings.Split(string(plain), "\n") {
		if _, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			s.remember(strings.ReplaceAll(v, `\n`, "\n"))
		}
	}
	return plain, true, nil
}

// minRedact is the shortest value messages are scrubbed of: shorter ones
// would scrub the messages' own words and numbers.
const minRedact = 3

func (s *sopsFiles) remember(v string) {
	for _, x := range []string{v, strings.Trim(v, `"'`)} {
		if len(x) >= minRedact && !slices.Contains(s.values, x) {
			s.values = append(s.values, x)
		}
	}
}

// file returns, for a file of the repository a bind, config or secret
// uses, the host path of its decrypted copy and that copy's digest when
// sops encrypted it; ok is false for a file in the clear. rel is p
// relative to the repository's real root.
func (s *sopsFiles) file(r *repo, p string) (host, digest string, ok bool, err error) {
	fi, err := r.stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return "", "", false, nil // not a file: the caller says what is wrong
	}
	if fi.Size() > maxSecretBytes {
		return "", "", false, s.marked(p)
	}
	data, err := r.read(p, maxSecretBytes)
	if err != nil {
		return "", "", false, nil
	}
	f := secrets.FormatOf(p)
	if !secrets.Encrypted(data, f) {
		return "", "", false, s.marked(p)
	}
	var plain []byte
	if s.opts.Unkeyed {
		if err := secrets.Check(data, f); err != nil {
			return "", "", true, fmt.Errorf("sops: %w", err)
		}
		plain = data // stands in: nothing is bound
	} else if plain, err = secrets.Decrypt(data, f, s.opts.Keys); err != nil {
		return "", "", true, fmt.Errorf("sops: %w", err)
	}
	sum := sha256.Sum256(plain)
	digest = "sha256:" + hex.EncodeToString(sum[:])
	dir := s.opts.Dir
	if dir == "" {
		dir = "/run/moor/secrets"
	}
	host = filepath.Join(dir, hex.EncodeToString(sum[:]))
	if !s.opts.Unkeyed && !slices.ContainsFunc(s.files, func(f reconcile.SecretFile) bool { return f.Path == host }) {
		s.files = append(s.files, reconcile.SecretFile{Path: host, Digest: digest, Data: plain, From: s.rel(p)})
	}
	return host, digest, true, nil
}

// decrypted reports whether host is the path of a decrypted file.
func (s *sopsFiles) decrypted(host string) bool {
	return slices.ContainsFunc(s.files, func(f reconcile.SecretFile) bool { return f.Path == host })
}

// secretFields names the compose fields of a service's spec that hold a
// decrypted value or bind a decrypted file.
func (s *sopsFiles) secretFields(svc *reconcile.Service) []string {
	var fields []string
	if len(s.values) > 0 {
		for name, raw := range svc.Spec.FieldJSON() {
			for _, v := range s.values {
				enc, _ := json.Marshal(v)
				if bytes.Contains(raw, bytes.Trim(enc, `"`)) {
					fields = append(fields, name)
					break
				}
			}
		}
	}
	for _, m := range svc.Spec.Mounts {
		if m.Type == reconcile.MountBind && s.decrypted(m.Source) {
			fields = append(fields, reconcile.ComposeFieldName("Mounts"))
			break
		}
	}
	slices.Sort(fields)
	return slices.Compact(fields)
}

// redact scrubs decrypted values out of a message.
func (s *sopsFiles) redact(msg string) string {
	if s == nil {
		return msg
	}
	return Redact(msg, s.values)
}

// Redact replaces every value of values in msg by [secret], the longest
// first.
func Redact(msg string, values []string) string {
	if len(values) == 0 {
		return msg
	}
	vs := slices.Clone(values)
	slices.SortFunc(vs, func(a, b string) int { return len(b) - len(a) })
	for _, v := range vs {
		msg = strings.ReplaceAll(msg, v, "[secret]")
	}
	return msg
}

// redactedError is an error whose message is scrubbed of decrypted
// values; its kind is still found through errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// CheckEncrypted walks the repository at root and returns, one a file,
// the files its .sops.yaml marks as encrypted that are not SOPS files
// (a secret committed in the clear) or that moor cannot read, whether or
// not a stack uses them. It needs no key.
func CheckEncrypted(root string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(root, ".sops.yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf(".sops.yaml: %w", err)
	}
	rules, err := secrets.ParseRules(data)
	if err != nil {
		return nil, fmt.Errorf(".sops.yaml: %w", err)
	}
	var problems []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		re, ok := rules.Marked(rel)
		if !ok || rel == ".sops.yaml" {
			return nil
		}
		content, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch err := secrets.Check(content, secrets.FormatOf(p)); {
		case errors.Is(err, secrets.ErrNotEncrypted):
			problems = append(problems, fmt.Sprintf("%s is not encrypted, but .sops.yaml says files matching %q are: encrypt it with sops before committing it", rel, re))
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: sops: %v", rel, err))
		}
		return nil
	})
	return problems, err
}
