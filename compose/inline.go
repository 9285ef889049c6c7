package compose

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/reconcile"
)

// inlineFiles maps the configs and secrets whose content the compose file gives
// (content:, or environment: a variable of the stack's .env or of the
// configured variables) onto files written into the container after its
// creation, as compose v2 does for a project outside swarm. The content
// counts against the stack's HashBytes, each file against HashEntries.
func (m mapper) inlineFiles(s *types.ServiceConfig) ([]reconcile.File, error) {
	var out []reconcile.File
	var errs []error
	for _, r := range fileRefs(s) {
		obj, err := m.fileObject(r)
		if err != nil || obj.File != "" {
			continue // reported, or a bind (mounts)
		}
		f, err := m.inlineFile(s, r, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b reconcile.File) int { return cmp.Compare(a.Target, b.Target) })
	for i := 1; i < len(out); i++ {
		if out[i].Target == out[i-1].Target {
			errs = append(errs, fmt.Errorf("two configs or secrets on %s", out[i].Target))
		}
	}
	return out, errors.Join(errs...)
}

func (m mapper) inlineFile(s *types.ServiceConfig, r fileRef, obj types.FileObjectConfig) (reconcile.File, error) {
	content := obj.Content
	if obj.Environment != "" {
		v, ok := m.project.Environment[obj.Environment]
		if !ok {
			return reconcile.File{}, fmt.Errorf("%s %s: variable %s is set neither in the stack's .env nor in the configured variables", r.kind, r.ref.Source, obj.Environment)
		}
		content = v
	}
	if s.ReadOnly {
		return reconcile.File{}, fmt.Errorf("%s %s: a %s given inline is written into the container, and read_only forbids it; put it in a file of the repository", r.kind, r.ref.Source, r.kind)
	}
	b := m.budget
	if b.hashEntries++; b.hashEntries > b.lim.HashEntries {
		return reconcile.File{}, overLimit("binds, configs and secrets of a stack may hold %d files, directories and symlinks together", b.lim.HashEntries)
	}
	if b.hashBytes += int64(len(content)); b.hashBytes > b.lim.HashBytes {
		return reconcile.File{}, overLimit("binds, configs and secrets of a stack may hold %s together", size(b.lim.HashBytes))
	}
	sum := sha256.Sum256([]byte(content))
	f := reconcile.File{
		Target:  fileTarget(r.kind, r.ref),
		Digest:  "sha256:" + hex.EncodeToString(sum[:]),
		UID:     r.ref.UID,
		GID:     r.ref.GID,
		Content: content,
	}
	if r.ref.Mode != nil {
		if *r.ref.Mode < 0 || *r.ref.Mode > 0o7777 {
			return f, fmt.Errorf("%s %s: mode %o is not a file mode", r.kind, r.ref.Source, *r.ref.Mode)
		}
		f.Mode = uint32(*r.ref.Mode)
	}
	return f, nil
}
