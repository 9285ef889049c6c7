package controller

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/secrets"
)

// secretsDir is the source's part of the secrets directory.
func (c *Controller) secretsDir() string {
	root := c.SecretsDir
	if root == "" {
		root = filepath.Join(os.TempDir(), "moor-secrets-unset")
	}
	return filepath.Join(root, c.Source.Name)
}

// composeSecrets are how the source's stacks read SOPS files: its key
// files, read on every load so that a rotated key takes effect.
func (c *Controller) composeSecrets() (compose.Secrets, error) {
	keys, err := secrets.LoadKeys(c.Source.SOPS.AgeKeyFile, c.Source.SOPS.PGPKeyFile)
	if err != nil {
		return compose.Secrets{}, fmt.Errorf("source %s: sops: %w", c.Source.Name, err)
	}
	return compose.Secrets{Keys: keys, Dir: c.secretsDir()}, nil
}

// ErrNotInMemory: the secrets directory is not memory-backed, so a
// decrypted file would reach a disk.
var ErrNotInMemory = errors.New("is not memory-backed (tmpfs or ramfs): decrypted files are never written to disk")

// writeSecrets writes the decrypted files the stacks bind, each named by
// its digest, 0444 in a 0700 directory of a tmpfs. A file already there
// with its digest is kept.
func (c *Controller) writeSecrets(d *reconcile.Desired) error {
	var files []reconcile.SecretFile
	for _, name := range slices.Sorted(maps.Keys(d.Stacks)) {
		files = append(files, d.Stacks[name].Secrets...)
	}
	if len(files) == 0 {
		return nil
	}
	dir := c.secretsDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("secrets directory: %w", err)
	}
	if err := memoryBacked(dir); err != nil {
		return err
	}
	for _, f := range files {
		if filepath.Dir(f.Path) != dir {
			return fmt.Errorf("decrypted %s: %s is outside the secrets directory %s", f.From, f.Path, dir)
		}
		if have, err := os.ReadFile(f.Path); err == nil && digestOf(have) == f.Digest {
			continue
		}
		tmp, err := os.CreateTemp(dir, ".tmp-")
		if err != nil {
			return fmt.Errorf("decrypted %s: %w", f.From, err)
		}
		_, err = tmp.Write(f.Data)
		if err == nil {
			err = tmp.Chmod(0o444)
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), f.Path)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("decrypted %s: %w", f.From, err)
		}
	}
	return nil
}

// memoryBacked checks that dir lives on a tmpfs or ramfs.
func memoryBacked(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("secrets directory %s: %w", dir, err)
	}
	switch int64(st.Type) {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC:
		return nil
	}
	return fmt.Errorf("secrets directory %s %w (set secrets_dir to a directory of a tmpfs, such as /dev/shm/moor)", dir, ErrNotInMemory)
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pruneSecrets removes the decrypted files that neither the desired state
// nor any container of the engine binds: a replaced or removed container's
// file goes with it, while an old container kept by a failed rollout keeps
// its own.
func (c *Controller) pruneSecrets(d *reconcile.Desired, obs *reconcile.Observed) {
	dir := c.secretsDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	used := map[string]bool{}
	if d != nil {
		for _, st := range d.Stacks {
			for _, f := range st.Secrets {
				used[f.Path] = true
			}
		}
	}
	if obs != nil {
		for _, ctr := range slices.Concat(obs.Containers, obs.Compose) {
			for _, b := range ctr.Binds {
				used[b] = true
			}
		}
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if used[p] || !isDigestName(e) {
			continue // in use, or not a file moor wrote
		}
		if err := os.Remove(p); err != nil {
			c.Log.Warn("remove a decrypted file no container uses", zap.String("path", p), zap.Error(err))
		}
	}
}

// isDigestName reports whether e is a file as writeSecrets names them:
// the sha256 of its content in hex.
func isDigestName(e os.DirEntry) bool {
	if !e.Type().IsRegular() || len(e.Name()) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(e.Name())
	return err == nil
}

// recordable is what desired.json may hold of a stack: a stack holding
// decrypted values has them replaced by [secret].
func recordable(st *reconcile.Stack) *reconcile.Stack {
	if len(st.Redact) == 0 {
		return st
	}
	b, err := json.Marshal(st)
	if err != nil {
		return &reconcile.Stack{Name: st.Name}
	}
	// The values as they stand in the JSON: escaped as its strings are.
	escaped := make([]string, len(st.Redact))
	for i, v := range st.Redact {
		enc, _ := json.Marshal(v)
		escaped[i] = string(bytes.Trim(enc, `"`))
	}
	var out reconcile.Stack
	if err := json.Unmarshal([]byte(compose.Redact(string(b), escaped)), &out); err != nil {
		return &reconcile.Stack{Name: st.Name}
	}
	return &out
}
