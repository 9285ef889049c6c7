package controller

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/reconcile"
)

// The load cache: a one-shot `moor apply` or `moor plan` is a new process,
// and loading the stacks of a revision through compose-go is most of its
// cost. desired.json, which every load writes for `moor status`, also
// carries the key of the load it records (loadCache) when its stacks are
// exactly what that load gave; a later load with the same key takes them
// from there instead of parsing the revision again.
//
// The key covers everything a load reads besides the snapshot's files
// (compose.Key: the source's path, variables, profiles, limits, stacks
// root, working directory, $HOME), the revision, whose snapshot is
// immutable, and moor's own build, so that a new binary never takes the
// stacks an old one made. A revision is not cached when what a load gives
// depends on more than that, or cannot be written down exactly:
//   - a symlink in the snapshot may lead out of it (compose.Hermetic);
//   - a stack is broken: its error would be kept only as text, losing
//     the chain that errors.Is and printable.Error read;
//   - the stacks do not come back from JSON equal to what the load gave
//     (checked on every write): a config's or secret's inline content is
//     never written to disk, and any field JSON cannot carry is caught the
//     same way.
//
// The source's timeout is not in the key: it bounds a load's cost, and a
// cached revision costs nothing to load.

// loadCache is the part of desired.json that lets a load be skipped.
type loadCache struct {
	// Key is the digest of the load's inputs (loadKey).
	Key string `json:"key"`
	// Claims are the stacks' claims, by stack, which Stack does not
	// marshal.
	Claims map[string][]reconcile.Claim `json:"claims,omitempty"`
}

// loadCacheVersion changes when the meaning of a cached load does.
const loadCacheVersion = 1

// loadKey is the key of loading root of the snapshot of rev with opts, by
// this build of moor; "" when loads are not to be cached.
func (c *Controller) loadKey(rev, root string, opts compose.Options) string {
	if c.build == "" || c.WorkDir != "" {
		return ""
	}
	k, err := compose.Key(root, opts)
	if err != nil {
		return ""
	}
	b, _ := json.Marshal([]any{loadCacheVersion, c.build, rev, k})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// cachedLoad returns the desired state desired.json holds for key, or nil
// when it holds none: no file, a damaged one, another key.
func cachedLoad(stateDir, source, key string) *desiredFile {
	if key == "" {
		return nil
	}
	b, err := os.ReadFile(desiredPath(stateDir, source))
	if err != nil {
		return nil
	}
	var f desiredFile
	if json.Unmarshal(b, &f) != nil || f.Version != desiredVersion || f.Load == nil || f.Load.Key != key || len(f.Broken) > 0 || f.Stacks == nil {
		return nil
	}
	for name, st := range f.Stacks {
		if st == nil {
			return nil
		}
		st.Claims = f.Load.Claims[name]
	}
	return &f
}

// roundTrips reports whether b, desired.json with stacks, gives back
// stacks exactly as they are.
func roundTrips(b []byte, stacks map[string]*reconcile.Stack) bool {
	var back desiredFile
	if err := json.Unmarshal(b, &back); err != nil || back.Load == nil {
		return false
	}
	for name, st := range back.Stacks {
		if st == nil {
			return false
		}
		st.Claims = back.Load.Claims[name]
	}
	return reflect.DeepEqual(back.Stacks, stacks)
}

// buildID is the Go build ID of the running executable: it differs
// between any two builds of different code. "" when it cannot be read (not
// an ELF file, stripped of it): then nothing is cached.
var buildID = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	id, err := elfBuildID(exe)
	if err != nil {
		return ""
	}
	return id
})

// elfBuildID reads the Go build ID note of the ELF file at path.
func elfBuildID(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := f.Section(".note.go.buildid")
	if s == nil {
		return "", errors.New("no Go build ID note")
	}
	note, err := s.Data()
	if err != nil {
		return "", err
	}
	// namesz, descsz, type, then the name "Go\0\0" and the ID.
	if len(note) < 16 {
		return "", errors.New("short Go build ID note")
	}
	order := f.ByteOrder
	namesz, descsz := order.Uint32(note[0:]), order.Uint32(note[4:])
	if namesz != 4 || !bytes.Equal(note[12:16], []byte("Go\x00\x00")) || uint64(16)+uint64(descsz) > uint64(len(note)) {
		return "", fmt.Errorf("unexpected Go build ID note")
	}
	id := string(note[16 : 16+descsz])
	if id == "" {
		return "", errors.New("empty Go build ID")
	}
	return id, nil
}
