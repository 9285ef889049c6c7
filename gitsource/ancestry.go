package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ancestryDepths are the depths of the fetches IsAncestor tries in turn,
// each into a fresh repository; 0 is the whole history. A push of a few
// commits is decided by the first; only a rewrite (or a long gap between
// syncs) goes further.
var ancestryDepths = []int{16, 256, 0}

// IsAncestor reports whether commit old is new itself or an ancestor of new
// on the remote, as seen from the source's ref. false means the history that
// led to old was rewritten (a force-push dropped it).
//
// Fetches are shallow, so the history of new is fetched with a small depth
// first, and again deeper only when old was not found within it and the
// history goes on. Since a commit names its parents, a fetch of depth n
// decides for every old at most n commits back. Fetched data is discarded.
// old == new costs nothing.
//
// new must be on the source's ref (the commit Resolve returned, or one
// before it): the ref is what is fetched. Errors are classified like
// Checkout's: ErrUnreachable, ErrAuth, and ErrRefNotFound when the ref is
// gone or new is no longer on it.
func (s *Source) IsAncestor(ctx context.Context, old, new string) (bool, error) {
	found, _, err := s.ancestry(ctx, old, new)
	return found, err
}

// ancestry is IsAncestor, and also returns the depth of the fetch that
// decided (0: the whole history; -1: no fetch).
func (s *Source) ancestry(ctx context.Context, old, new string) (bool, int, error) {
	if !isFullSHA(old) || !isFullSHA(new) {
		return false, -1, fmt.Errorf("is %q an ancestor of %q in %s: want two full commit shas", old, new, s.shownURL())
	}
	if old == new || s.parentOf(old, new) {
		return true, -1, nil
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return false, -1, fmt.Errorf("is %s an ancestor of %s in %s: %w", old, new, s.shownURL(), err)
	}
	tmp, err := os.MkdirTemp(s.Dir, tmpPrefix)
	if err != nil {
		return false, -1, fmt.Errorf("is %s an ancestor of %s in %s: %w", old, new, s.shownURL(), err)
	}
	defer removeTree(tmp)

	rev := Revision{Ref: s.ref(), Commit: new}
	for _, depth := range ancestryDepths {
		repo, _, err := s.fetch(ctx, rev, filepath.Join(tmp, "git-"+strconv.Itoa(depth)), depth)
		if err != nil {
			return false, depth, fmt.Errorf("is %s an ancestor of %s: %w", old, new, err)
		}
		found, whole, err := reaches(repo, plumbing.NewHash(new), plumbing.NewHash(old))
		if err != nil {
			return false, depth, fmt.Errorf("is %s an ancestor of %s in %s: %w", old, new, s.shownURL(), err)
		}
		if found || whole {
			return found, depth, nil
		}
	}
	return false, 0, fmt.Errorf("is %s an ancestor of %s: commit %s is not on %s of %s: %w", old, new, new, rev.Ref, s.shownURL(), ErrRefNotFound)
}

// reaches walks the history of from in repo, breadth first, and reports
// whether target is from or one of its ancestors. whole is false when the
// walk did not cover all of from's history: from itself or a parent is
// missing (the edge of a shallow fetch), so target may be further back.
// A parent's hash alone is enough to find target: it is part of the child.
func reaches(repo *git.Repository, from, target plumbing.Hash) (found, whole bool, err error) {
	seen := map[plumbing.Hash]bool{from: true}
	queue := []plumbing.Hash{from}
	whole = true
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h == target {
			return true, true, nil
		}
		c, err := repo.CommitObject(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			whole = false
			continue
		}
		if err != nil {
			return false, false, fmt.Errorf("read commit %s: %w", h, err)
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false, whole, nil
}

// parentOf reports whether old is a parent of new by the commit object
// new's stored snapshot keeps (the common case: one commit since the
// last): no fetch. false when no snapshot of new is stored.
func (s *Source) parentOf(old, new string) bool {
	m, ok := s.stored(new)
	if !ok {
		return false
	}
	obj, err := commitObject(m.Object, new)
	if err != nil {
		return false
	}
	var c object.Commit
	if err := c.Decode(obj); err != nil {
		return false
	}
	for _, p := range c.ParentHashes {
		if p.String() == old {
			return true
		}
	}
	return false
}
