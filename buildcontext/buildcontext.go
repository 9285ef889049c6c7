// Package buildcontext reads the build context of a compose build: the
// files of one directory of a repository, filtered by its .dockerignore as
// the docker CLI filters them. The same walk hashes the context when a
// revision is loaded (Digest) and writes the tar stream the Engine builds
// from (Write), so what is built is what was hashed.
//
// Only the repository is read: the walk goes through an os.Root, never
// follows a symlink (it is sent as a symlink, as docker sends it), and
// sends regular files, directories and symlinks only.
package buildcontext

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is one build context.
type Context struct {
	// Root is the repository; Dir is the context, a slash-separated
	// directory relative to it ("." for the root).
	Root *os.Root
	Dir  string
	// Dockerfile is the Dockerfile's slash-separated path in the context.
	// It is always sent, as .dockerignore is, whatever .dockerignore says
	// (the docker CLI does the same: the builder needs both).
	Dockerfile string
	// Inline, when set, is the Dockerfile's text: it is sent under the
	// name Dockerfile instead of a file of the context.
	Inline []byte
}

// Limits cap what a context may hold; zero is no cap.
type Limits struct {
	Bytes   int64 // the sum of the files' sizes
	Entries int   // files, directories and symlinks
}

// Errors of a context over its Limits.
var (
	ErrTooManyBytes   = errors.New("build context too large")
	ErrTooManyEntries = errors.New("build context holds too many files")
)

// Stats are what a walk read.
type Stats struct {
	Bytes   int64
	Entries int
}

// Digest returns "sha256:<hex>" over the context as Write would send it:
// every entry's path (sorted), type and permission bits, the content of
// files and the target of symlinks.
func Digest(ctx context.Context, c Context, lim Limits) (string, Stats, error) {
	return walk(ctx, c, lim, nil)
}

// Write writes the context to w as a tar stream (owner root, a fixed
// modification time, so that equal contexts give equal streams) and
// returns its Digest. It does not close the tar stream when the digest
// differs from want (unless want is ""): the receiver sees a truncated
// archive and builds nothing from files that changed since they were hashed.
func Write(ctx context.Context, c Context, w io.Writer, want string) (string, error) {
	tw := tar.NewWriter(w)
	digest, _, err := walk(ctx, c, Limits{}, tw)
	if err != nil {
		return "", err
	}
	if want != "" && digest != want {
		return digest, fmt.Errorf("build context %s changed since it was loaded", c.Dir)
	}
	return digest, tw.Close()
}

// epoch is the modification time of every entry sent.
var epoch = time.Unix(0, 0).UTC()

func walk(ctx context.Context, c Context, lim Limits, tw *tar.Writer) (string, Stats, error) {
	var st Stats
	h := sha256.New()
	dir := path.Clean(c.Dir)
	pm, err := ignores(c, dir)
	if err != nil {
		return "", st, err
	}
	emit := func(rel string, mode fs.FileMode, size int64, content io.Reader, link string) error {
		if st.Entries++; lim.Entries > 0 && st.Entries > lim.Entries {
			return ErrTooManyEntries
		}
		fmt.Fprintf(h, "%q %s\n", rel, mode.String())
		hdr := &tar.Header{Name: rel, Mode: int64(mode.Perm()), ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
		case mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, link
			fmt.Fprintf(h, "-> %q\n", link)
		default:
			if st.Bytes += size; lim.Bytes > 0 && st.Bytes > lim.Bytes {
				return ErrTooManyBytes
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, size
			fmt.Fprintf(h, "%d\n", size)
		}
		var out io.Writer = h
		if tw != nil {
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			out = io.MultiWriter(h, tw)
		}
		if content == nil {
			return nil
		}
		n, err := io.Copy(out, io.LimitReader(content, size))
		if err == nil && n != size {
			err = fmt.Errorf("%s changed while it was read", rel)
		}
		return err
	}
	inlineDone := false
	err = fs.WalkDir(c.Root.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel := strings.TrimPrefix(p, dir+"/")
		if dir == "." {
			rel = p
		}
		if c.Inline != nil && rel == c.Dockerfile {
			inlineDone = true
			return emit(rel, 0o644, int64(len(c.Inline)), strings.NewReader(string(c.Inline)), "")
		}
		if pm != nil {
			skip, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if skip {
				if d.IsDir() && !mayInclude(pm, rel) {
					return fs.SkipDir
				}
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode()
		switch {
		case mode.IsDir():
			return emit(rel, mode, 0, nil, "")
		case mode&fs.ModeSymlink != 0:
			target, err := c.Root.Readlink(p)
			if err != nil {
				return err
			}
			return emit(rel, mode, 0, nil, target)
		case mode.IsRegular():
			f, err := c.Root.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if now, err := f.Stat(); err != nil {
				return err
			} else if !now.Mode().IsRegular() || now.Size() != fi.Size() {
				return fmt.Errorf("%s changed while it was read", rel)
			}
			return emit(rel, mode, fi.Size(), f, "")
		}
		return fmt.Errorf("%s is neither a file, a directory nor a symlink", rel)
	})
	if err == nil && c.Inline != nil && !inlineDone {
		// The inline Dockerfile goes last when its name sorts after every
		// file; its place in the hash is fixed either way.
		err = emit(c.Dockerfile, 0o644, int64(len(c.Inline)), strings.NewReader(string(c.Inline)), "")
	}
	if err != nil {
		return "", st, err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), st, nil
}

// ignores reads the context's .dockerignore into a matcher, nil when
// there is none, with the Dockerfile and .dockerignore themselves always
// kept, as the docker CLI keeps them.
func ignores(c Context, dir string) (*patternmatcher.PatternMatcher, error) {
	p := path.Join(dir, ".dockerignore")
	fi, err := c.Root.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf(".dockerignore is not a regular file")
	}
	f, err := c.Root.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	if c.Inline == nil {
		patterns = append(patterns, "!"+c.Dockerfile)
	}
	patterns = append(patterns, "!.dockerignore")
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return pm, nil
}

// mayInclude reports whether an exception pattern (!pattern) may bring
// back an entry under the excluded directory rel, as the docker CLI
// decides whether to walk into it.
func mayInclude(pm *patternmatcher.PatternMatcher, rel string) bool {
	if !pm.Exclusions() {
		return false
	}
	for _, pat := range pm.Patterns() {
		if pat.Exclusion() && strings.HasPrefix(pat.String()+"/", rel+"/") {
			return true
		}
	}
	return false
}
