// Package ledger is the durable record of every apply: one JSON object per
// line in STATE/ledger.jsonl, appended and fsynced before Append returns.
//
// The file is only ever appended to, and moor never deletes a byte of it.
// A line that is not a record (edited by hand, damaged by a disk, or the
// torn remains of a crash mid-write) is skipped by Read and reported, with
// its line number, as Corrupt; the records before and after it read as
// usual, and the next Append ends a torn last line with a '\n' before it
// writes, so every record starts on a line of its own and the damaged line
// stays in the file for whoever wants to look at it. The one exception is
// Append's own write when it fails half-way: those bytes were never a
// record, and Append cuts them off again.
//
// The ledger takes no lock on the file: one process writes it (the state
// dir's process lock sees to that), and a mutex orders the goroutines of
// that process.
package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Record is one apply.
type Record struct {
	Seq    int64  `json:"seq"` // assigned by Append: 1 + the last record's
	Source string `json:"source"`
	// Kind is "" for a run of the repository's revision (a commit's
	// deploy), "image update" for one that rolled out tags that moved in
	// their registry (Images).
	Kind     string            `json:"kind,omitempty"`
	Revision string            `json:"revision"` // "main@sha1:<hex>"
	Subject  string            `json:"subject,omitempty"`
	Author   string            `json:"author,omitempty"`
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Result   string            `json:"result"` // "success", "failed", "partial", "noop", "refused"
	Error    string            `json:"error,omitempty"`
	Stacks   []string          `json:"stacks,omitempty"` // stacks the plan touched
	Broken   map[string]string `json:"broken,omitempty"` // stack -> why it did not load
	Ops      []OpResult        `json:"ops,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
	// Images are the services an image update rolled out, with the
	// digests before and after.
	Images []ImageUpdate `json:"images,omitempty"`
	// Overrides are the holds an operator's apply went past: "windows"
	// (moor apply --ignore-windows during a closed deploy window),
	// "suspension" (moor apply --ignore-suspend of a suspended source).
	Overrides []string `json:"overrides,omitempty"`
}

// ImageUpdate is one service whose tag moved in its registry.
type ImageUpdate struct {
	Stack   string `json:"stack"`
	Service string `json:"service"`
	Image   string `json:"image"`          // the tag, "registry:5000/app:1"
	From    string `json:"from,omitempty"` // the digest it ran; "" when unknown
	To      string `json:"to"`             // the digest the registry names
}

// OpResult is what became of one operation of the plan.
type OpResult struct {
	Op       string        `json:"op"` // the op's String(): "replace web/api/1 (config changed: env)"
	Stack    string        `json:"stack"`
	Service  string        `json:"service,omitempty"`
	Result   string        `json:"result"` // "ok", "failed", "skipped"
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Job is the job whose failure the op failed or was skipped for.
	Job *Job `json:"job,omitempty"`
}

// Job is a job run that did not complete: which, its exit code (-1 when it
// did not exit) and its last lines of output, as its container printed
// them (the host's own record: they may hold what the job printed of its
// secrets).
type Job struct {
	Name     string `json:"name"` // "STACK/SERVICE"
	ExitCode int    `json:"exit_code"`
	Output   string `json:"output,omitempty"`
}

// Duration is how long the apply took; zero when it has not finished.
func (r Record) Duration() time.Duration {
	if r.Started.IsZero() || r.Finished.IsZero() || r.Finished.Before(r.Started) {
		return 0
	}
	return r.Finished.Sub(r.Started)
}

// Touches reports whether the apply concerned stack: the plan touched it, or
// it did not load.
func (r Record) Touches(stack string) bool {
	for _, s := range r.Stacks {
		if s == stack {
			return true
		}
	}
	_, ok := r.Broken[stack]
	return ok
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("ledger closed")

// Ledger appends records to a ledger file. Its methods are safe for
// concurrent use.
type Ledger struct {
	path string

	mu      sync.Mutex
	f       *os.File // O_APPEND
	seq     int64    // the highest Seq in the file
	end     int64    // offset just past the file's last '\n'
	size    int64    // size of the file as this Ledger last left it; -1: unknown
	corrupt []Corrupt
	// scanned: the file has been read once; until then nothing is known
	// of it (size is -1).
	scanned bool
	// damaged is told of the corrupt lines the first read finds.
	damaged func([]Corrupt)
}

// Open opens the ledger file at path, creating it (0600) and its directory
// (0700) if needed. The file is read once, at the first Append or Corrupt,
// to learn the last Seq: a process that records nothing (a no-op run) does
// not pay for reading a long history. Lines that are not records are
// skipped (Corrupt lists them), never an error.
func Open(path string) (*Ledger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	return &Ledger{path: path, f: f, size: -1}, nil
}

// OnDamage sets f to be told of the lines that are not records when the
// file is first read (at the first Append or Corrupt), if there are any.
func (l *Ledger) OnDamage(f func([]Corrupt)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.damaged = f
}

// Path is the ledger file's path.
func (l *Ledger) Path() string { return l.path }

// Corrupt returns the lines of the file that are not records, as the
// Ledger last read it: at its first Append or Corrupt, and again whenever
// it found the file other than it left it.
func (l *Ledger) Corrupt() ([]Corrupt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.scanned {
		if l.f == nil {
			return nil, fmt.Errorf("read ledger %s: %w", l.path, ErrClosed)
		}
		if err := l.rescan(); err != nil {
			return nil, err
		}
	}
	return slices.Clone(l.corrupt), nil
}

// Append assigns r.Seq, writes r as one line with a single write(2) and
// fsyncs the file before it returns. If the file ends in a torn line, a
// '\n' is written before the record (in the same write): the torn line
// stays, as a line of its own that Read reports as Corrupt.
//
// r.Seq is set only when the record was written. An error from the fsync
// means the record may or may not be on disk; a later Append finds out from
// the file which one it is, so Seqs never repeat.
func (l *Ledger) Append(r *Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("append to %s: %w", l.path, ErrClosed)
	}
	if err := l.check(); err != nil {
		return err
	}
	rec := *r
	rec.Seq = l.seq + 1
	b, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("append record %d to %s: %w", rec.Seq, l.path, err)
	}
	line := make([]byte, 0, len(b)+2)
	if l.end != l.size {
		line = append(line, '\n')
	}
	line = append(append(line, b...), '\n')
	start := l.size
	n, err := l.f.Write(line)
	l.size = -1 // until the write and the fsync are known to have worked
	if err != nil {
		// Half a record of our own is no one's data: cut it off, so that
		// the file is as it was. If that fails too, it stays as a corrupt
		// line, which is no worse.
		if n > 0 && l.f.Truncate(start) == nil {
			l.size = start
		}
		return fmt.Errorf("append record %d to %s: %w", rec.Seq, l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("append record %d to %s: fsync: %w", rec.Seq, l.path, err)
	}
	l.seq, l.end, l.size = rec.Seq, start+int64(n), start+int64(n)
	r.Seq = rec.Seq
	return nil
}

// Close closes the file. Append after Close returns ErrClosed.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close ledger %s: %w", l.path, err)
	}
	return nil
}

// check makes sure the Ledger knows the file as it is: its last Seq and
// whether it ends on a complete line. When the file is as this Ledger left
// it (the common case) that costs one fstat; otherwise — a write that
// failed, a file changed by another hand — the file is read again.
func (l *Ledger) check() error {
	fi, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("stat ledger %s: %w", l.path, err)
	}
	if l.size >= 0 && fi.Size() == l.size {
		return nil
	}
	return l.rescan()
}

// rescan reads the whole file to learn the highest Seq, where its last
// line ends, its size, and its corrupt lines.
func (l *Ledger) rescan() error {
	if _, err := l.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read ledger %s: %w", l.path, err)
	}
	st, err := scan(l.f, l.path, nil)
	if err != nil {
		return err
	}
	l.seq, l.end, l.size, l.corrupt = st.lastSeq, st.end, st.size, st.corrupt
	if !l.scanned {
		l.scanned = true
		if l.damaged != nil && len(l.corrupt) > 0 {
			l.damaged(slices.Clone(l.corrupt))
		}
	}
	return nil
}
