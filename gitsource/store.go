package gitsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// meta is the content of snapshots/<commit>.json. It lives outside the
// snapshot directory so the snapshot holds only the repository's files.
type meta struct {
	Ref         string    `json:"ref"`
	Commit      string    `json:"commit"`
	Subject     string    `json:"subject"`
	Author      string    `json:"author"`
	AuthorEmail string    `json:"author_email"`
	Time        time.Time `json:"time"`
	// Object is the raw commit object, byte for byte as Git stores it
	// (without its "commit <size>" header), so that the commit's signature
	// can be verified later without the repository. Snapshots made before
	// moor kept it lack it.
	Object []byte `json:"object,omitempty"`
	// Listed are the directories Trees lists (Source.Listed, sorted).
	Listed []string `json:"listed,omitempty"`
	Trees  Trees    `json:"trees,omitempty"`
	// Omitted are the directories the snapshot leaves out.
	Omitted []string `json:"omitted,omitempty"`
}

func (m meta) snapshot(ref, dir string) *Snapshot {
	return &Snapshot{
		Revision:    Revision{Ref: ref, Commit: m.Commit},
		Dir:         dir,
		Subject:     m.Subject,
		Author:      m.Author,
		AuthorEmail: m.AuthorEmail,
		Time:        m.Time,
		Trees:       m.Trees,
		Omitted:     m.Omitted,
	}
}

func readMeta(path string) (meta, error) {
	var m meta
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// writeMeta writes the metadata and the raw commit object through a temp
// file and a rename, so a reader sees either no file or a whole one.
func writeMeta(path string, snap *Snapshot, object []byte) error {
	b, err := json.MarshalIndent(meta{
		Ref:         snap.Revision.Ref,
		Commit:      snap.Revision.Commit,
		Subject:     snap.Subject,
		Author:      snap.Author,
		AuthorEmail: snap.AuthorEmail,
		Time:        snap.Time,
		Object:      object,
		Listed:      snap.Listed,
		Trees:       snap.Trees,
		Omitted:     snap.Omitted,
	}, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), tmpPrefix+"meta-")
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o444)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// makeReadOnly drops write permission below dir (not dir itself, which
// place chmods after its rename). Symlinks are skipped: chmod would follow
// them, possibly out of the snapshot.
func makeReadOnly(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == dir || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		mode := fs.FileMode(0o444)
		if d.IsDir() {
			mode = 0o555
		} else if fi, err := d.Info(); err != nil {
			return err
		} else if fi.Mode()&0o111 != 0 {
			mode = 0o555
		}
		return os.Chmod(path, mode)
	})
}

// removeTree removes path like os.RemoveAll, first giving back the write
// permission makeReadOnly took from its directories.
func removeTree(path string) error {
	err := os.RemoveAll(path)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// Prune removes every snapshot whose commit is not in keep, unfinished
// snapshots, and the temp dirs of fetches that crashed. It must not run
// while a Checkout of the same source is in progress. Files at the top of
// Dir are others' (the controller writes its status and suspensions there,
// through temp files of the same prefix, from other processes too): only
// directories are fetches.
func (s *Source) Prune(keep map[string]bool) error {
	var errs []error
	top, err := os.ReadDir(s.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("prune %s: %w", s.Dir, err)
	}
	for _, e := range top {
		if e.IsDir() && strings.HasPrefix(e.Name(), tmpPrefix) {
			errs = append(errs, removeTree(filepath.Join(s.Dir, e.Name())))
		}
	}
	dir := filepath.Join(s.Dir, snapshotsDir)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("prune %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		commit := strings.TrimSuffix(name, metaSuffix)
		switch {
		case strings.HasPrefix(name, tmpPrefix):
		case !isFullSHA(commit):
			continue // not ours: leave it
		case keep[commit] && s.complete(commit):
			continue
		case name == commit:
			// The directory goes first: a metadata file without its
			// directory is not a complete snapshot.
		default:
			if _, err := os.Stat(filepath.Join(dir, commit)); err == nil {
				continue // removed after its directory, below
			}
		}
		errs = append(errs, removeTree(filepath.Join(dir, name)))
		if name == commit {
			errs = append(errs, removeTree(filepath.Join(dir, name+metaSuffix)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prune %s: %w", s.Dir, err)
	}
	return nil
}

// complete reports whether the files of commit are whole. A snapshot made
// before moor kept commit objects counts: containers may mount it, and
// Checkout adds the object without touching its files.
func (s *Source) complete(commit string) bool {
	_, ok := s.stored(commit)
	return ok
}
