package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moor-dev/moor/reconcile"
)

// hostDirs maps paths of the source (the directory given to Load, inside
// the repository) onto the stack directories on the host, which mirror it.
type hostDirs struct {
	root     string // the source's directory, as the stacks' paths are built from it
	realRoot string // the same with every symlink resolved
	repoReal string // the repository's real root
	to       string // where it is mirrored; root itself for a working copy
}

// RepoFiles is where the stack directories keep files of the repository
// outside the source's directory that binds use: ROOT/.moor/repo/<path in
// the repository>.
const RepoFiles = ".moor/repo/"

func newHostDirs(sd StackDir, stacksRoot string) hostDirs {
	h := hostDirs{root: filepath.Clean(sd.Root), to: filepath.Clean(stacksRoot), repoReal: sd.Repo}
	h.realRoot = h.root
	if real, err := filepath.EvalSymlinks(h.root); err == nil {
		h.realRoot = real
	}
	if real, err := filepath.EvalSymlinks(sd.Repo); err == nil {
		h.repoReal = real
	}
	if stacksRoot == "" {
		h.to = h.root
	}
	return h
}

// mirrorRel is where the real path p of the repository lives, relative to
// the stack directories' root: its path in the source's directory, or
// under RepoFiles for the rest of the repository.
func (h hostDirs) mirrorRel(p string) (string, bool) {
	if rel, ok := h.realRel(p); ok {
		return rel, true
	}
	if !within(h.repoReal, p) {
		return "", false
	}
	rel, err := filepath.Rel(h.repoReal, p)
	return RepoFiles + filepath.ToSlash(rel), err == nil
}

// rel returns p (absolute, clean, as written) relative to the source's
// directory, slash-separated; false when p is not inside it.
func (h hostDirs) rel(p string) (string, bool) {
	if !within(h.root, p) {
		return "", false
	}
	rel, err := filepath.Rel(h.root, p)
	return filepath.ToSlash(rel), err == nil
}

// realRel returns the real path p (symlinks resolved) relative to the
// source's directory, slash-separated; false when p is not inside it.
func (h hostDirs) realRel(p string) (string, bool) {
	if !within(h.realRoot, p) {
		return "", false
	}
	rel, err := filepath.Rel(h.realRoot, p)
	return filepath.ToSlash(rel), err == nil
}

// join is where rel (relative to the source's directory) lives on the host.
func (h hostDirs) join(rel string) string {
	return filepath.Join(h.to, filepath.FromSlash(rel))
}

// dir is where the directory p of the source lives on the host.
func (h hostDirs) dir(p string) string {
	if rel, ok := h.rel(filepath.Clean(p)); ok {
		return h.join(rel)
	}
	return p
}

// stackFiles collects, while a stack's services are mapped, what its
// directory must hold beyond the stack's own directory.
type stackFiles struct {
	extra map[string]bool // tracked files and trees elsewhere in the source that binds use
	dirs  map[string]bool // directories binds need that git does not track
}

func (f *stackFiles) addExtra(rel string) {
	if f.extra == nil {
		f.extra = map[string]bool{}
	}
	f.extra[rel] = true
}

func (f *stackFiles) addDir(rel string) {
	if f.dirs == nil {
		f.dirs = map[string]bool{}
	}
	f.dirs[rel] = true
}

// hostBind maps a bind source of the repository onto the stack
// directories. real is its path relative to the repository's real root,
// symlinks resolved; written is the path as compose resolved it. It
// records what the stack's directory must hold for it.
func (m mapper) hostBind(written, real string) (string, error) {
	rel, ok := m.host.mirrorRel(filepath.Join(m.repo.real, real))
	if !ok {
		return "", fmt.Errorf("%s is outside the repository", m.sd.rel(written))
	}
	if m.host.to == m.host.root && strings.HasPrefix(rel, RepoFiles) {
		return written, nil // a working copy runs where it is
	}
	if stackRel, _ := m.host.realRel(m.stackReal()); !under(rel, stackRel) {
		m.files.addExtra(rel)
	}
	return m.host.join(rel), nil
}

// dataDir maps a bind source that the repository does not hold onto the
// stack directories: a directory the stack's containers write, which must
// lie in the source's path.
func (m mapper) dataDir(written string, create bool) (string, error) {
	rel, ok := m.host.rel(written)
	if !ok {
		return "", fmt.Errorf("bind source %s does not exist in the repository, and is outside the source's path: moor can give it no place in the stack directories", m.sd.rel(written))
	}
	if create {
		m.files.addDir(rel)
	}
	return m.host.join(rel), nil
}

// stackReal is the stack's directory with symlinks resolved.
func (m mapper) stackReal() string {
	if real, err := filepath.EvalSymlinks(m.sd.Dir); err == nil {
		return real
	}
	return m.sd.Dir
}

// under reports whether the slash path rel is dir or below it.
func under(rel, dir string) bool {
	return dir == "." || rel == dir || strings.HasPrefix(rel, dir+"/")
}

// listFiles lists what the stack's directory must hold: the regular files
// of the stack's own directory and of what its binds use elsewhere in the
// source, and the directories its binds need, with a digest over their
// paths, modes and content.
func (m mapper) listFiles() (*reconcile.StackFiles, error) {
	stackRel, ok := m.host.realRel(m.stackReal())
	if !ok {
		return nil, fmt.Errorf("stack directory %s is outside the source's path", m.sd.rel(m.sd.Dir))
	}
	sums := map[string]string{}
	for _, rel := range append([]string{stackRel}, slices.Sorted(maps.Keys(m.files.extra))...) {
		if err := m.walkFiles(rel, sums); err != nil {
			return nil, err
		}
	}
	h := sha256.New()
	files := slices.Sorted(maps.Keys(sums))
	for _, f := range files {
		fmt.Fprintf(h, "file %q %s\n", f, sums[f])
	}
	dirs := slices.Sorted(maps.Keys(m.files.dirs))
	for _, d := range dirs {
		fmt.Fprintf(h, "dir %q\n", d)
	}
	return &reconcile.StackFiles{Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Files: files, Dirs: dirs}, nil
}

// walkFiles adds the regular files at or under rel (relative to the
// source's real directory) to sums, each with a digest of its mode and
// content. A symlink is followed when it names a regular file inside the
// source's path (its content is written at the link's place); other
// symlinks are left out.
func (m mapper) walkFiles(rel string, sums map[string]string) error {
	repoRel := func(r string) string {
		if rest, ok := strings.CutPrefix(r, RepoFiles); ok {
			return filepath.FromSlash(rest)
		}
		p, err := filepath.Rel(m.repo.real, filepath.Join(m.host.realRoot, filepath.FromSlash(r)))
		if err != nil {
			return r
		}
		return p
	}
	root := m.repo.root
	start := repoRel(rel)
	return fs.WalkDir(root.FS(), filepath.ToSlash(start), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := m.budget.ctx.Err(); err != nil {
			return err
		}
		srcRel, ok := m.host.mirrorRel(filepath.Join(m.repo.real, filepath.FromSlash(p)))
		if !ok {
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, err := root.Stat(filepath.FromSlash(p))
		if err != nil || !fi.Mode().IsRegular() {
			return nil // a symlink out of the repository, to a directory, or dangling
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(filepath.Join(m.repo.real, filepath.FromSlash(p)))
			if err != nil {
				return nil
			}
			if _, inside := m.host.mirrorRel(target); !inside {
				return nil
			}
		}
		sum, err := m.fileSum(filepath.FromSlash(p), fi)
		if err != nil {
			return fmt.Errorf("%s: %w", path.Join(m.host.root, srcRel), err)
		}
		sums[srcRel] = sum
		return nil
	})
}

// fileSum is the digest of one file's mode and content, counted against
// the stack's hash budget.
func (m mapper) fileSum(p string, fi fs.FileInfo) (string, error) {
	b := m.budget
	if b.hashEntries++; b.hashEntries > b.lim.HashEntries {
		return "", overLimit("binds, configs and secrets of a stack may hold %d files, directories and symlinks together", b.lim.HashEntries)
	}
	if b.hashBytes += fi.Size(); b.hashBytes > b.lim.HashBytes {
		return "", overLimit("binds, configs and secrets of a stack may hold %s together", size(b.lim.HashBytes))
	}
	f, err := m.repo.root.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, fi.Size())); err != nil {
		return "", err
	}
	exec := "0644"
	if fi.Mode()&0o111 != 0 {
		exec = "0755"
	}
	return exec + " " + hex.EncodeToString(h.Sum(nil)), nil
}
