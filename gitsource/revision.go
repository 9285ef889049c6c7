package gitsource

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// WorkingCopyRef is the Ref of the revision of an uncommitted working copy
// (moor plan --dir). Its Commit is empty.
const WorkingCopyRef = "working-copy"

const revisionSep = "@sha1:"

// Revision is what Resolve found: the ref as configured and the commit it
// points at.
type Revision struct {
	// Ref is the ref as given in the configuration ("main", "v1.2.0", or a
	// full commit sha), not the full reference name.
	Ref string
	// Commit is the commit's full 40-hex sha, lower case.
	Commit string
}

// String returns "REF@sha1:COMMIT", the form stored in the moor.revision
// label and in the ledger; a working copy is "working-copy".
func (r Revision) String() string {
	if r.Commit == "" {
		return r.Ref
	}
	return r.Ref + revisionSep + r.Commit
}

// ParseRevision parses the output of Revision.String.
func ParseRevision(s string) (Revision, error) {
	if s == WorkingCopyRef {
		return Revision{Ref: WorkingCopyRef}, nil
	}
	i := strings.LastIndex(s, revisionSep)
	if i <= 0 {
		return Revision{}, fmt.Errorf("parse revision %q: want REF%sCOMMIT", s, revisionSep)
	}
	rev := Revision{Ref: s[:i], Commit: s[i+len(revisionSep):]}
	if !isFullSHA(rev.Commit) {
		return Revision{}, fmt.Errorf("parse revision %q: commit is not 40 lower-case hex digits", s)
	}
	return rev, nil
}

// isFullSHA reports whether s is a full sha1 in lower case (the form Git
// prints and moor stores).
func isFullSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Snapshot is the files of one revision. Files of a snapshot made by
// Checkout are read-only and must not be modified: other containers may
// still mount them.
type Snapshot struct {
	// Revision is the commit actually checked out; it can differ from the
	// revision passed to Checkout when the branch moved in between.
	Revision Revision
	// Dir holds the files of the commit and nothing else (no .git).
	Dir string
	// Subject is the first line of the commit message.
	Subject     string
	Author      string
	AuthorEmail string
	// Time is the author time of the commit.
	Time time.Time
	// Trees lists the directories of Source.Listed; nil when the snapshot
	// was made for other directories (or before moor listed them).
	Trees Trees
	// Listed are the directories Trees was made for (Source.Listed).
	Listed []string
	// Omitted are the directories left out of the snapshot (Source.Omit),
	// sorted.
	Omitted []string
}

// WorkingCopy returns a snapshot of the files in dir as they are, committed
// or not, for `moor plan --dir`. Nothing is copied: Dir is dir.
func WorkingCopy(dir string) (*Snapshot, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("working copy: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("working copy %s: not a directory", dir)
	}
	return &Snapshot{Revision: Revision{Ref: WorkingCopyRef}, Dir: dir}, nil
}

// Commit returns the snapshot's commit object, decoded from the copy that
// Checkout stored byte for byte, for signature verification
// (verify.Verifier.Commit). It reads the copy from disk on every call and
// fails when the copy is missing or does not hash to the snapshot's commit:
// a modified object must never be the one verified. A working copy has no
// commit and always fails.
//
// The commit comes without the repository: its Tree, Parents and Files
// return plumbing.ErrObjectNotFound.
func (s *Snapshot) Commit() (*object.Commit, error) {
	if s.Revision.Commit == "" {
		return nil, fmt.Errorf("snapshot %s: a working copy has no commit to read", s.Dir)
	}
	m, err := readMeta(s.Dir + metaSuffix)
	if err != nil {
		return nil, fmt.Errorf("commit %s of snapshot %s: %w", s.Revision.Commit, s.Dir, err)
	}
	c, err := decodeCommit(m.Object, s.Revision.Commit)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", s.Dir, err)
	}
	return c, nil
}

// decodeCommit decodes a raw commit object that must be the commit named
// want.
func decodeCommit(raw []byte, want string) (*object.Commit, error) {
	obj, err := commitObject(raw, want)
	if err != nil {
		return nil, err
	}
	c, err := object.DecodeCommit(memory.NewStorage(), obj)
	if err != nil {
		return nil, fmt.Errorf("commit %s: decode stored object: %w", want, err)
	}
	return c, nil
}

// commitObject checks that raw is the commit object named want, which is
// what makes a stored copy trustworthy: a commit's name is the hash of
// exactly these bytes.
func commitObject(raw []byte, want string) (*plumbing.MemoryObject, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("commit %s: no stored commit object", want)
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.CommitObject)
	if _, err := obj.Write(raw); err != nil {
		return nil, fmt.Errorf("commit %s: %w", want, err)
	}
	if got := obj.Hash().String(); got != want {
		return nil, fmt.Errorf("commit %s: stored commit object hashes to %s: it was modified", want, got)
	}
	return obj, nil
}
