package gitsource

import (
	"fmt"
	"os"
	"strings"
	"time"
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
