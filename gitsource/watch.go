package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	git "github.com/go-git/go-git/v5"
)

// ErrNotLocal: Watch was given a source whose URL is not a local path or a
// file:// URL. Such a source can only be polled.
var ErrNotLocal = errors.New("not a local repository")

// watchSettle is how long Watch waits after the first change it sees before
// it calls back, so that a push (lock files, renames, several refs) or a
// burst of pushes costs one call. It is part of every watched deploy's
// latency, and a call made before a push has finished costs one ref
// listing: the push's last rename calls back again.
const watchSettle = 25 * time.Millisecond

// Watch calls changed soon after a ref of the source's repository changes:
// a branch or tag is created, moved or deleted (a loose ref under refs/ or
// packed-refs) or HEAD is changed. It is for a repository on this host, a
// bare one that people push to or a working repository's .git; for any
// other URL it returns an error matching ErrNotLocal at once.
//
// Watch blocks until ctx is done and then returns nil; it returns early
// only when it cannot watch (the repository is missing: ErrUnreachable) or
// the watch breaks. It calls changed once as soon as it watches, since a
// change made before that moment would otherwise go unnoticed, and then at
// most once per watchSettle (25ms) while changes go on. Any ref counts,
// not only the source's: a spurious call costs one ls-remote, a missed one
// a whole poll interval.
//
// changed runs on Watch's goroutine and must not block: a non-blocking send
// into a channel of capacity 1 is the way.
func (s *Source) Watch(ctx context.Context, changed func()) error {
	return s.watch(ctx, changed, watchOptions{settle: watchSettle})
}

// watchOptions let tests observe and time a watch.
type watchOptions struct {
	settle time.Duration
	// seen, when set, is told of every event: its path relative to the git
	// directory, and whether it counted as a ref change.
	seen func(rel string, relevant bool)
}

func (s *Source) watch(ctx context.Context, changed func(), o watchOptions) error {
	ep, err := Endpoint(s.URL)
	if err != nil {
		return err
	}
	if ep.Protocol != "file" {
		return fmt.Errorf("watch %s: %w", s.shownURL(), ErrNotLocal)
	}
	dir, err := gitDir(ep.Path)
	if err != nil {
		return fmt.Errorf("watch %s: %w", s.shownURL(), err)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", s.shownURL(), err)
	}
	defer fw.Close()
	w := &refWatcher{dir: dir, fw: fw, watchOptions: o}
	// The git directory itself for HEAD and packed-refs; every directory
	// below refs/ for loose refs (inotify does not recurse).
	if err := fw.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", s.shownURL(), err)
	}
	if err := w.addTree(filepath.Join(dir, "refs")); err != nil {
		return fmt.Errorf("watch %s: %w", s.shownURL(), err)
	}
	changed()
	if err := w.run(ctx, changed); err != nil {
		return fmt.Errorf("watch %s: %w", s.shownURL(), err)
	}
	return nil
}

// gitDir returns the directory that holds the refs of the repository at
// path: path itself when it is bare, path/.git otherwise.
func gitDir(path string) (string, error) {
	for _, dir := range []string{filepath.Join(path, git.GitDirName), path} {
		fi, err := os.Stat(filepath.Join(dir, "refs"))
		if err != nil || !fi.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%s is not a git repository: %w", path, ErrUnreachable)
}

type refWatcher struct {
	dir string // the git directory
	fw  *fsnotify.Watcher
	watchOptions
}

// run turns events into calls of changed until ctx is done.
func (w *refWatcher) run(ctx context.Context, changed func()) error {
	var settled <-chan time.Time // armed by the first change after a call
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fw.Events:
			if !ok {
				return fsnotify.ErrClosed
			}
			relevant, err := w.handle(ev)
			if err != nil {
				return err
			}
			if relevant && settled == nil {
				settled = time.After(w.settle)
			}
		case err, ok := <-w.fw.Errors:
			if !ok {
				return fsnotify.ErrClosed
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				return err
			}
			// Events were lost, and any of them may have been a ref's.
			if settled == nil {
				settled = time.After(w.settle)
			}
		case <-settled:
			settled = nil
			changed()
		}
	}
}

// handle classifies one event, and watches a directory that appeared
// under refs/ (a branch named "feature/x" makes refs/heads/feature).
func (w *refWatcher) handle(ev fsnotify.Event) (bool, error) {
	rel, err := filepath.Rel(w.dir, ev.Name)
	if err != nil {
		return false, err
	}
	rel = filepath.ToSlash(rel)
	relevant := refChange(rel, ev.Op)
	if w.seen != nil {
		w.seen(rel, relevant)
	}
	if relevant && ev.Has(fsnotify.Create) && strings.HasPrefix(rel, "refs/") {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			if err := w.addTree(ev.Name); err != nil {
				return false, err
			}
		}
	}
	return relevant, nil
}

// refChange reports whether an event on rel (slash-separated, relative to
// the git directory) changes a ref: HEAD, packed-refs or anything under
// refs/. Git's lock files are not changes (the rename that ends a lock is),
// nor is a change of attributes alone.
func refChange(rel string, op fsnotify.Op) bool {
	if op == fsnotify.Chmod || strings.HasSuffix(rel, ".lock") {
		return false
	}
	return rel == "HEAD" || rel == "packed-refs" || strings.HasPrefix(rel, "refs/")
}

// addTree watches root and every directory below it. A directory removed
// meanwhile (a deleted branch's) is skipped.
func (w *refWatcher) addTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if err := w.fw.Add(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("watch %s: %w", path, err)
		}
		return nil
	})
}
