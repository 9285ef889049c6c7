package compose

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// repo reads the files of one repository and nothing else: a path that
// leaves it, lexically or through a symlink, is ErrOutside before anything
// is opened, and only regular files are read (a fifo or a device would
// block or never end).
//
// Paths are judged as compose-go builds them (absolute, cleaned), then with
// every symlink resolved; the file is then opened through an os.Root at the
// repository's real root, which refuses any way out that appears between
// the check and the open.
type repo struct {
	dir  string // absolute and clean, as the paths of the stacks are built from it
	real string // dir with every symlink resolved
	root *os.Root
	// hidden, when set, says why a path relative to the repository (as
	// written, and with symlinks resolved) must not be read: another
	// host's directory in a fleet (fleet.go).
	hidden func(rel string) error
}

func openRepo(dir string) (*repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	root, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	return &repo{dir: abs, real: real, root: root}, nil
}

func (r *repo) Close() error { return r.root.Close() }

// within reports whether the clean absolute path p is base or below it.
func within(base, p string) bool {
	rel, err := filepath.Rel(base, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// contains reports whether p (absolute) lies inside the repository as
// written, before symlinks are resolved.
func (r *repo) contains(p string) bool {
	p = filepath.Clean(p)
	return within(r.dir, p) || within(r.real, p)
}

// resolve returns p, an absolute path, relative to the repository's real
// root with every symlink resolved. A path outside the repository is
// ErrOutside, whether or not it exists; a path inside that does not exist
// is an fs.ErrNotExist error.
func (r *repo) resolve(p string) (string, error) {
	if !filepath.IsAbs(p) || !r.contains(p) {
		return "", ErrOutside
	}
	if r.hidden != nil {
		// As written, too: the snapshot may not hold another host's
		// files at all.
		if rel, err := filepath.Rel(r.dir, filepath.Clean(p)); err == nil && !strings.HasPrefix(rel, "..") {
			if err := r.hidden(rel); err != nil {
				return "", err
			}
		}
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	if !within(r.real, real) {
		return "", ErrOutside
	}
	rel, err := filepath.Rel(r.real, real)
	if err != nil {
		return "", err
	}
	if r.hidden != nil {
		if err := r.hidden(rel); err != nil {
			return "", err
		}
	}
	return rel, nil
}

// stat is Lstat of p after resolve: the mode of what p finally names.
func (r *repo) stat(p string) (fs.FileInfo, error) {
	rel, err := r.resolve(p)
	if err != nil {
		return nil, err
	}
	return r.root.Lstat(rel)
}

// errTooLarge is returned by read for a file over its limit; callers say
// which limit.
var errTooLarge = errors.New("too large")

// read returns the content of the regular file p, at most limit bytes:
// errTooLarge beyond. Nothing is opened unless p is a regular file of the
// repository.
func (r *repo) read(p string, limit int64) ([]byte, error) {
	rel, err := r.resolve(p)
	if err != nil {
		return nil, err
	}
	fi, err := r.root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, ErrNotRegular
	}
	if fi.Size() > limit {
		return nil, errTooLarge
	}
	f, err := r.root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, ErrNotRegular
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge
	}
	return data, nil
}

// notFound says that a file does not exist without the operating
// system's wording, which repeats the path (or the path a symlink points
// to).
type notFound struct{}

func (notFound) Error() string        { return "not found" }
func (notFound) Is(target error) bool { return target == fs.ErrNotExist }

// describe turns what resolve, stat and read return into the end of a
// message that already names the file.
func describe(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return notFound{}
	}
	return err
}
