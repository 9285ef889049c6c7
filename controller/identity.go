package controller

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Identity is who a moor instance is: a random ID made once and kept in
// STATE/identity. Every container, network and volume the instance makes
// carries it (reconcile.LabelOwner), and the instance touches nothing that
// carries another. Moving a host's moor to a new state dir means copying
// this file, or the new instance leaves the old one's stacks alone.
type Identity struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	// AdoptUnowned: the state dir was in use before the identity was made,
	// by a moor that did not label owners; what that moor made (its
	// source's resources without an owner label) is this instance's.
	AdoptUnowned bool `json:"adopt_unowned,omitempty"`
}

func identityPath(stateDir string) string { return filepath.Join(stateDir, "identity") }

// LoadIdentity reads the instance's identity, making it at the first run.
// Two processes making it at once agree on one.
func LoadIdentity(stateDir string) (Identity, error) {
	path := identityPath(stateDir)
	for range 3 {
		b, err := os.ReadFile(path)
		if err == nil {
			var id Identity
			if err := json.Unmarshal(b, &id); err != nil || len(id.ID) < 16 {
				return Identity{}, fmt.Errorf("%s is corrupt (%v): it names this moor instance, whose containers carry it; restore it from a backup, or remove it to start as a new instance that leaves the old one's containers alone", path, err)
			}
			return id, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return Identity{}, fmt.Errorf("read identity: %w", err)
		}
		if err := makeIdentity(stateDir); err != nil && !errors.Is(err, fs.ErrExist) {
			return Identity{}, err
		}
	}
	return Identity{}, fmt.Errorf("read identity %s: it keeps changing", path)
}

func makeIdentity(stateDir string) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	id := Identity{ID: hex.EncodeToString(raw), Created: time.Now().UTC(), AdoptUnowned: usedBefore(stateDir)}
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(stateDir, ".tmp-identity")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// A link fails if another process made the identity meanwhile.
	return os.Link(tmp.Name(), identityPath(stateDir))
}

// usedBefore reports whether a moor ran on the state dir already.
func usedBefore(stateDir string) bool {
	for _, name := range []string{"ledger.jsonl", "sources"} {
		if _, err := os.Stat(filepath.Join(stateDir, name)); err == nil {
			return true
		}
	}
	return false
}

// readIdentity reads the identity without making one (for moor status);
// the zero Identity when there is none yet.
func readIdentity(stateDir string) Identity {
	var id Identity
	if b, err := os.ReadFile(identityPath(stateDir)); err == nil {
		json.Unmarshal(b, &id)
	}
	return id
}
