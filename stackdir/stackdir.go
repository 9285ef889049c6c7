// Package stackdir keeps each stack's persistent working directory on the
// host: the files git tracks for the stack, as of the revision its
// containers run, beside whatever those containers write there, which it
// never touches.
//
// The directories of one source mirror its path in the repository under a
// root (STATE/stacks/SOURCE by default, or one the operator names, such as
// /opt/stacks): the stack in the repository's app/ lives in ROOT/app. Its
// relative binds (./data, ./config/app.conf) point there, never into a
// snapshot, so pruning a snapshot can never take data with it.
//
// Sync writes the tracked files of a revision: a file whose content did not
// change is left alone (a container that binds it keeps its inode), a
// changed one is replaced atomically (a temp file renamed over it: a
// container that binds that single file keeps the content it started
// with, a container that binds its directory sees the new one), a file git
// no longer tracks is removed unless something changed it since moor wrote
// it. What moor wrote is recorded per stack in a manifest kept in the state
// dir, outside the stack directory.
package stackdir

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moor-dev/moor/reconcile"
)

// Dirs is the stack directories of one source.
type Dirs struct {
	// Root is where the source's path is mirrored: stack directories are
	// Root/<stack's directory in the repository>.
	Root string
	// Manifests is the directory of the manifests (STATE/sources/NAME/files).
	Manifests string
	// Snapshot returns the directory of a revision's files: the root of
	// the revision's snapshot.
	Snapshot func(revision string) (string, error)
	// SourcePath is the source's path inside the repository: a file's path
	// relative to Root is its path relative to SourcePath in the snapshot,
	// but for the files under RepoFiles, which are the rest of the
	// repository.
	SourcePath string
}

// RepoFiles is where the files of the repository outside the source's path
// that binds use are kept, under Root (compose.RepoFiles).
const RepoFiles = ".moor/repo/"

// inSnapshot is where the file rel (relative to Root) is in a snapshot.
func (d *Dirs) inSnapshot(rel string) string {
	if rest, ok := strings.CutPrefix(rel, RepoFiles); ok {
		return filepath.FromSlash(rest)
	}
	return filepath.FromSlash(path.Join(d.SourcePath, rel))
}

var _ reconcile.Files = (*Dirs)(nil)

// manifest is what moor wrote into one stack's directory.
type manifest struct {
	Stack    string `json:"stack"`
	Revision string `json:"revision"`
	Digest   string `json:"digest"`
	// Files are the tracked files written, relative to Root, with the
	// sha256 of what was written.
	Files map[string]string `json:"files"`
	// Dirs are the directories made for binds.
	Dirs []string `json:"dirs,omitempty"`
}

func (d *Dirs) manifestPath(stack string) string {
	return filepath.Join(d.Manifests, stack+".json")
}

// ObserveFiles returns what each stack directory holds, by stack: the
// revision and digest of the tracked files moor last wrote there.
func (d *Dirs) ObserveFiles(ctx context.Context) (map[string]reconcile.StackFiles, error) {
	entries, err := os.ReadDir(d.Manifests)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]reconcile.StackFiles{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list stack directories: %w", err)
	}
	out := map[string]reconcile.StackFiles{}
	for _, e := range entries {
		stack, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		m, err := d.readManifest(stack)
		if err != nil {
			return nil, err
		}
		sf := reconcile.StackFiles{Revision: m.Revision, Digest: m.Digest,
			Files: slices.Sorted(maps.Keys(m.Files)), Dirs: m.Dirs}
		for _, rel := range append(slices.Clone(m.Dirs), sf.Files...) {
			if p, err := d.path(rel); err == nil {
				if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
					sf.Missing = append(sf.Missing, rel)
				}
			}
		}
		out[stack] = sf
	}
	return out, nil
}

func (d *Dirs) readManifest(stack string) (*manifest, error) {
	b, err := os.ReadFile(d.manifestPath(stack))
	if errors.Is(err, fs.ErrNotExist) {
		return &manifest{Stack: stack, Files: map[string]string{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest of stack %s: %w", stack, err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest of stack %s (%s): %w", stack, d.manifestPath(stack), err)
	}
	if m.Files == nil {
		m.Files = map[string]string{}
	}
	return &m, nil
}

// SyncFiles makes the stack's directory hold the tracked files of want:
// each file written from the revision's snapshot unless it already holds
// that content, the directories of want.Dirs made, and files moor wrote
// before that want no longer has removed, unless changed since. It is
// idempotent. A file that something else changed since moor wrote it and
// git no longer tracks is left, and named in the error.
func (d *Dirs) SyncFiles(ctx context.Context, stack string, want reconcile.StackFiles) error {
	src, err := d.Snapshot(want.Revision)
	if err != nil {
		return fmt.Errorf("files of stack %s: %w", stack, err)
	}
	old, err := d.readManifest(stack)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.Root, 0o755); err != nil {
		return fmt.Errorf("stack directories %s: %w", d.Root, err)
	}
	from, err := os.OpenRoot(src)
	if err != nil {
		return fmt.Errorf("files of %s: %w", want.Revision, err)
	}
	defer from.Close()
	next := &manifest{Stack: stack, Revision: want.Revision, Digest: want.Digest, Files: map[string]string{}, Dirs: want.Dirs}
	for _, rel := range want.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		sum, err := d.writeFile(from, rel)
		if err != nil {
			return fmt.Errorf("stack %s: %w", stack, err)
		}
		next.Files[rel] = sum
	}
	for _, rel := range want.Dirs {
		dir, err := d.path(rel)
		if err != nil {
			return fmt.Errorf("stack %s: %w", stack, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("stack %s: make %s: %w", stack, rel, err)
		}
	}
	var kept []string
	others, err := d.othersFiles(stack)
	if err != nil {
		return err
	}
	for _, rel := range slices.Sorted(maps.Keys(old.Files)) {
		if _, still := next.Files[rel]; still || others[rel] {
			continue // still wanted, here or by another stack
		}
		if removed, err := d.removeFile(rel, old.Files[rel]); err != nil {
			return fmt.Errorf("stack %s: %w", stack, err)
		} else if !removed {
			kept = append(kept, rel)
		}
	}
	if err := d.writeManifest(next); err != nil {
		return err
	}
	if len(kept) > 0 {
		return fmt.Errorf("stack %s: git no longer tracks %s, but something changed them since moor wrote them: they were left where they are", stack, strings.Join(kept, ", "))
	}
	return nil
}

// othersFiles are the files the other stacks' directories hold, which a
// stack that no longer wants one of them must leave.
func (d *Dirs) othersFiles(stack string) (map[string]bool, error) {
	entries, err := os.ReadDir(d.Manifests)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range entries {
		other, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || other == stack {
			continue
		}
		m, err := d.readManifest(other)
		if err != nil {
			return nil, err
		}
		for rel := range m.Files {
			out[rel] = true
		}
	}
	return out, nil
}

// path is where rel (slash-separated, relative to Root) lives; a path that
// would leave Root is an error.
func (d *Dirs) path(rel string) (string, error) {
	clean := path.Clean(rel)
	if rel == "" || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%q is not inside the stack directories", rel)
	}
	return filepath.Join(d.Root, filepath.FromSlash(clean)), nil
}

// writeFile copies rel from the snapshot to Root, unless it holds that
// content already, and returns the content's sha256.
func (d *Dirs) writeFile(from *os.Root, rel string) (string, error) {
	dst, err := d.path(rel)
	if err != nil {
		return "", err
	}
	fi, err := from.Stat(d.inSnapshot(rel))
	if err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file in the revision", rel)
	}
	data, err := from.ReadFile(d.inSnapshot(rel))
	if err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	sum := digest(data)
	mode := fs.FileMode(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	if cur, err := fileDigest(dst); err == nil && cur == sum {
		if st, err := os.Stat(dst); err == nil && st.Mode().Perm() != mode {
			os.Chmod(dst, mode)
		}
		return sum, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".moor-"+filepath.Base(dst)+"-")
	if err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	return sum, nil
}

// removeFile removes rel if it still holds what moor wrote (sum); it
// reports whether it did. An absent file is removed.
func (d *Dirs) removeFile(rel, sum string) (bool, error) {
	p, err := d.path(rel)
	if err != nil {
		return false, err
	}
	cur, err := fileDigest(p)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", rel, err)
	}
	if cur != sum {
		return false, nil
	}
	if err := os.Remove(p); err != nil {
		return false, fmt.Errorf("remove %s: %w", rel, err)
	}
	return true, nil
}

func (d *Dirs) writeManifest(m *manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.Manifests, 0o700); err != nil {
		return err
	}
	path := d.manifestPath(m.Stack)
	tmp, err := os.CreateTemp(d.Manifests, ".tmp-"+m.Stack)
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
	return os.Rename(tmp.Name(), path)
}

// fileDigest is the sha256 of a regular file's content; a symlink or
// anything else but a regular file is an error (it was not moor's).
func fileDigest(p string) (string, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
