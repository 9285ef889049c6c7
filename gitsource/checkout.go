package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Layout of Source.Dir, which Checkout creates 0700 like snapshots/:
//
//	snapshots/<commit>/       the files of the commit, read-only (0444 files, 0555
//	                          directories, so that a container of any user reads
//	                          what it bind-mounts; the 0700 above keeps others out)
//	snapshots/<commit>.json   metadata and the raw commit object; written last,
//	                          marks the snapshot complete
//	.tmp-*/                   a fetch in progress (or a crashed one): git/ and tree/
const (
	snapshotsDir = "snapshots"
	metaSuffix   = ".json"
	tmpPrefix    = ".tmp-"
)

// Checkout returns the snapshot of rev. A complete snapshot of rev.Commit is
// reused without any network call. Otherwise the ref is fetched fresh into a
// temp dir (shallow, one ref, no tags; a full fetch for a commit sha the
// server will not serve directly), and the snapshot is renamed into place.
//
// If the branch moved since Resolve, the fetched commit is used: the returned
// Snapshot's Revision is the truth, not rev.
func (s *Source) Checkout(ctx context.Context, rev Revision) (*Snapshot, error) {
	if !isFullSHA(rev.Commit) {
		return nil, fmt.Errorf("checkout %s of %s: commit is not a full sha", rev, s.shownURL())
	}
	if snap, ok := s.existing(rev.Ref, rev.Commit); ok {
		return snap, nil
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, snapshotsDir), 0o700); err != nil {
		return nil, fmt.Errorf("checkout %s of %s: %w", rev, s.shownURL(), err)
	}
	tmp, err := os.MkdirTemp(s.Dir, tmpPrefix)
	if err != nil {
		return nil, fmt.Errorf("checkout %s of %s: %w", rev, s.shownURL(), err)
	}
	defer removeTree(tmp)

	repo, commit, err := s.fetch(ctx, rev, filepath.Join(tmp, "git"), 1)
	if err != nil {
		return nil, err
	}
	got := Revision{Ref: rev.Ref, Commit: commit.Hash.String()}
	// When the branch moved (or the server did not peel the tag), the
	// fetched commit may have a snapshot already.
	if snap, ok := s.existing(got.Ref, got.Commit); ok {
		return snap, nil
	}
	object, err := rawCommit(repo, commit.Hash)
	if err != nil {
		return nil, fmt.Errorf("checkout %s of %s: %w", got, s.shownURL(), err)
	}
	trees, err := listTrees(repo, commit, s.Listed)
	if err != nil {
		return nil, fmt.Errorf("checkout %s of %s: list trees: %w", got, s.shownURL(), err)
	}
	snap := &Snapshot{
		Revision:    got,
		Dir:         s.snapshotDir(got.Commit),
		Subject:     subject(commit.Message),
		Author:      commit.Author.Name,
		AuthorEmail: commit.Author.Email,
		Time:        commit.Author.When,
		Trees:       trees,
		Listed:      sortedDirs(s.Listed),
		Omitted:     s.omitted(trees),
	}
	if m, ok := s.stored(got.Commit); ok && covers(snap.Omitted, m.Omitted) {
		// Whole files from a moor that did not keep the commit object (or
		// whose stored object was damaged). Containers may mount them, so
		// only the metadata is rewritten, with the object.
		if err := writeMeta(snap.Dir+metaSuffix, snap, object); err != nil {
			return nil, fmt.Errorf("checkout %s of %s: %w", got, s.shownURL(), err)
		}
		return snap, nil
	}
	tree := filepath.Join(tmp, "tree")
	if err := materialize(repo, commit.Hash, tree, snap.Omitted); err != nil {
		return nil, fmt.Errorf("checkout %s of %s: %w", got, s.shownURL(), err)
	}
	if err := s.place(tree, snap, object); err != nil {
		return nil, fmt.Errorf("checkout %s of %s: %w", got, s.shownURL(), err)
	}
	return snap, nil
}

func (s *Source) snapshotDir(commit string) string {
	return filepath.Join(s.Dir, snapshotsDir, commit)
}

// StoredDir returns the directory of the whole snapshot of rev
// ("main@sha1:<hex>"), if one is stored: the files of an earlier revision,
// for what still runs them.
func (s *Source) StoredDir(rev string) (string, error) {
	r, err := ParseRevision(rev)
	if err != nil {
		return "", err
	}
	if _, ok := s.stored(r.Commit); !ok {
		return "", fmt.Errorf("no snapshot of %s is stored", rev)
	}
	return s.snapshotDir(r.Commit), nil
}

// existing returns the complete snapshot of commit, if there is one:
// whole files and the commit object they were checked out from. Without
// the object the signature could not be verified, so a snapshot made
// before moor kept it is not complete.
func (s *Source) existing(ref, commit string) (*Snapshot, bool) {
	m, ok := s.stored(commit)
	if !ok {
		return nil, false
	}
	if _, err := commitObject(m.Object, commit); err != nil {
		return nil, false
	}
	snap := m.snapshot(ref, s.snapshotDir(commit))
	if snap.Listed = sortedDirs(s.Listed); !slices.Equal(snap.Listed, m.Listed) {
		snap.Trees = nil // listed for other directories
	}
	if s.Omit != nil && !covers(s.omitted(m.Trees), m.Omitted) {
		return nil, false // it lacks files now wanted
	}
	return snap, true
}

// stored returns the metadata of commit when its snapshot directory is
// whole (renamed into place and marked by the metadata file), whether or
// not the metadata holds the commit object.
func (s *Source) stored(commit string) (meta, bool) {
	m, err := readMeta(s.snapshotDir(commit) + metaSuffix)
	if err != nil || m.Commit != commit {
		return meta{}, false
	}
	if fi, err := os.Stat(s.snapshotDir(commit)); err != nil || !fi.IsDir() {
		return meta{}, false
	}
	return m, true
}

// fetch fetches what rev names into a new bare repository at gitDir, with
// depth commits of history (0 for all of it), and returns it with the
// commit to check out.
func (s *Source) fetch(ctx context.Context, rev Revision, gitDir string, depth int) (*git.Repository, *object.Commit, error) {
	url, err := s.remoteURL()
	if err != nil {
		return nil, nil, err
	}
	storage := filesystem.NewStorage(osfs.New(gitDir), cache.NewObjectLRUDefault())
	repo, err := git.Init(storage, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch %s from %s: %w", rev, s.shownURL(), err)
	}
	remote, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}})
	if err != nil {
		return nil, nil, fmt.Errorf("fetch %s from %s: %w", rev, s.shownURL(), err)
	}
	var h plumbing.Hash
	if isFullSHA(strings.ToLower(rev.Ref)) {
		h, err = s.fetchCommit(ctx, remote, rev.Commit, depth)
	} else {
		h, err = s.fetchRef(ctx, repo, remote, rev.Ref, depth)
	}
	if err != nil {
		return nil, nil, err
	}
	commit, err := peel(repo, h)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch %s from %s: %w", rev, s.shownURL(), err)
	}
	return repo, commit, nil
}

// fetchRef fetches ref with depth commits of history, trying it as a
// branch, then as a tag (the order Resolve uses), and returns the hash the
// ref holds.
func (s *Source) fetchRef(ctx context.Context, repo *git.Repository, remote *git.Remote, ref string, depth int) (plumbing.Hash, error) {
	for _, name := range candidates(ref) {
		spec := config.RefSpec("+" + name.String() + ":" + name.String())
		o := &git.FetchOptions{RefSpecs: []config.RefSpec{spec}, Depth: depth, Tags: git.NoTags}
		err := s.fetchOnce(ctx, remote, o)
		if shallowUnsupported(err) {
			o.Depth = 0
			err = s.fetchOnce(ctx, remote, o)
		}
		if errors.As(err, new(git.NoMatchingRefSpecError)) {
			continue
		}
		if err != nil {
			return plumbing.ZeroHash, classify(fmt.Sprintf("fetch %s from %s", name, s.shownURL()), err)
		}
		r, err := repo.Reference(name, false)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("fetch %s from %s: %w", name, s.shownURL(), err)
		}
		return r.Hash(), nil
	}
	return plumbing.ZeroHash, fmt.Errorf("fetch: ref %s not found in %s: %w", ref, s.shownURL(), ErrRefNotFound)
}

// fetchCommit fetches one commit by sha: with depth commits of history when
// the server allows wanting any reachable sha (GitHub, GitLab), otherwise
// every branch and tag with full history (plain git-upload-pack, which is
// what local and file:// sources use).
func (s *Source) fetchCommit(ctx context.Context, remote *git.Remote, sha string, depth int) (plumbing.Hash, error) {
	h := plumbing.NewHash(sha)
	spec := config.RefSpec(sha + ":refs/moor/want")
	err := s.fetchOnce(ctx, remote, &git.FetchOptions{RefSpecs: []config.RefSpec{spec}, Depth: depth, Tags: git.NoTags})
	if err == nil {
		return h, nil
	}
	if ctx.Err() != nil {
		return plumbing.ZeroHash, classify(fmt.Sprintf("fetch commit %s from %s", sha, s.shownURL()), err)
	}
	// Refused (ErrExactSHA1NotSupported, "not our ref") or the sha does not
	// exist: fetch everything and look.
	err = s.fetchOnce(ctx, remote, &git.FetchOptions{
		RefSpecs: []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"},
		Tags:     git.NoTags,
	})
	if err != nil {
		return plumbing.ZeroHash, classify(fmt.Sprintf("fetch commit %s from %s", sha, s.shownURL()), err)
	}
	return h, nil
}

// fetchOnce is one network operation under the source's timeout.
func (s *Source) fetchOnce(ctx context.Context, remote *git.Remote, o *git.FetchOptions) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	o.Auth = s.Auth
	err := remote.FetchContext(ctx, o)
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

// shallowUnsupported reports whether the server refused a depth-limited
// fetch. go-git's in-process server (plumbing/transport/server, installed
// for "file" on a host without the git binary) answers "unsupported
// capability: shallow", with no sentinel error to match; git-upload-pack,
// GitHub and GitLab all serve shallow fetches.
func shallowUnsupported(err error) bool {
	return err != nil && strings.Contains(err.Error(), "capability: shallow")
}

// peel follows annotated tags from h down to a commit.
func peel(repo *git.Repository, h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		obj, err := repo.Object(plumbing.AnyObject, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, fmt.Errorf("commit %s: %w", h, ErrRefNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("read object %s: %w", h, err)
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o, nil
		case *object.Tag:
			h = o.Target
		default:
			return nil, fmt.Errorf("object %s is a %s, not a commit: %w", h, obj.Type(), ErrRefNotFound)
		}
	}
	return nil, fmt.Errorf("tag %s: too many nested tags", h)
}

// rawCommit returns the commit object h as the repository stores it.
func rawCommit(repo *git.Repository, h plumbing.Hash) ([]byte, error) {
	obj, err := repo.Storer.EncodedObject(plumbing.CommitObject, h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	return b, nil
}

// materialize writes the files of commit h into the new directory dir,
// read-only. Every path goes through an os.Root, so no name in the tree (a
// "..", a path through a symlink the tree itself makes) can write outside
// dir; a name that tries is an error. Submodules are left out.
func materialize(repo *git.Repository, h plumbing.Hash, dir string, omit []string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	commit, err := repo.CommitObject(h)
	if err != nil {
		return err
	}
	tree, err := commit.Tree()
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	made := map[string]bool{".": true}
	// The tree is walked by hand, so that an omitted directory's objects
	// are not even read.
	var walk func(t *object.Tree, dir string) error
	walk = func(t *object.Tree, dir string) error {
		for _, e := range t.Entries {
			name := path.Join(dir, e.Name)
			if err := checkName(name); err != nil {
				return err
			}
			switch e.Mode {
			case filemode.Dir:
				if slices.Contains(omit, name) {
					continue
				}
				sub, err := repo.TreeObject(e.Hash)
				if err != nil {
					return err
				}
				if err := walk(sub, name); err != nil {
					return err
				}
				continue
			case filemode.Symlink, filemode.Regular, filemode.Deprecated, filemode.Executable:
			default:
				continue // submodules are left out
			}
			if d := path.Dir(name); !made[d] {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return err
				}
				made[d] = true
			}
			blob, err := repo.BlobObject(e.Hash)
			if err != nil {
				return err
			}
			if err := writeEntry(root, object.NewFile(name, e.Mode, blob)); err != nil {
				return err
			}
		}
		return nil
	}
	err = walk(tree, "")
	if err != nil {
		return fmt.Errorf("check out files: %w", err)
	}
	for _, d := range omit {
		if err := checkName(d); err != nil {
			return err
		}
		if p := path.Dir(d); !made[p] {
			if err := root.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("check out files: %w", err)
			}
			made[p] = true
		}
		if err := root.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("check out files: %w", err)
		}
	}
	return makeReadOnly(dir)
}

// writeEntry writes the file f of the tree through root.
func writeEntry(root *os.Root, f *object.File) error {
	if f.Mode == filemode.Symlink {
		target, err := f.Contents()
		if err != nil {
			return err
		}
		return root.Symlink(target, f.Name)
	}
	perm := fs.FileMode(0o644)
	if f.Mode == filemode.Executable {
		perm = 0o755
	}
	return writeBlob(root, f, perm)
}

// checkName refuses a tree path git itself would refuse to check out.
func checkName(name string) error {
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || strings.EqualFold(part, ".git") {
			return fmt.Errorf("path %q in the tree is not allowed", name)
		}
	}
	return nil
}

func writeBlob(root *os.Root, f *object.File, perm fs.FileMode) error {
	r, err := f.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := root.OpenFile(f.Name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// place renames the checked-out tree into the snapshot's place and then
// writes the metadata file, with the commit object, that marks it complete.
func (s *Source) place(tree string, snap *Snapshot, object []byte) error {
	dst := snap.Dir
	if _, err := os.Lstat(dst); err == nil {
		// An earlier run crashed after the rename, before the metadata.
		if err := removeTree(dst); err != nil {
			return err
		}
	}
	if err := os.Rename(tree, dst); err != nil {
		return err
	}
	// The top directory stays writable until it has moved: renaming a
	// directory to a new parent rewrites its "..".
	if err := os.Chmod(dst, 0o555); err != nil {
		return err
	}
	return writeMeta(dst+metaSuffix, snap, object)
}

func subject(msg string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	return strings.TrimSpace(line)
}
