package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrCorrupt is wrapped by the error for a record that does not parse and is
// not the torn last line of the file.
var ErrCorrupt = errors.New("corrupt ledger record")

// Read returns every complete record of the ledger file at path, oldest
// first. A torn last line (a crash mid-write) is skipped; a line in the
// middle that does not parse is an error naming its line number. A file
// that does not exist yet holds no records.
func Read(path string) ([]Record, error) {
	recs, _, err := ReadTorn(path)
	return recs, err
}

// ReadTorn is Read that also returns how many bytes of a torn last line it
// skipped (0 when the file ends on a complete record).
func ReadTorn(path string) (recs []Record, torn int64, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read ledger: %w", err)
	}
	defer f.Close()
	st, err := scan(f, path, func(r Record) { recs = append(recs, r) })
	if err != nil {
		return nil, 0, err
	}
	return recs, st.size - st.end, nil
}

type scanStats struct {
	lastSeq int64 // Seq of the last complete record
	end     int64 // offset just past the last complete record's '\n'
	size    int64 // bytes read
}

// scan reads records from r, calling visit (when not nil) on each complete
// one. Only a line ending in '\n' is complete: Append writes a record and
// its '\n' with one write, so a line without it is the torn remains of a
// crash, whatever its bytes (a power cut can also leave a tail of NULs).
// Blank lines are skipped.
func scan(r io.Reader, name string, visit func(Record)) (scanStats, error) {
	var st scanStats
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		st.size += int64(len(b))
		if err == io.EOF {
			return st, nil // b, if any, is the torn tail
		}
		if err != nil {
			return st, fmt.Errorf("read ledger %s: %w", name, err)
		}
		st.end = st.size
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return st, fmt.Errorf("%s:%d: %w: %w", name, line, ErrCorrupt, err)
		}
		st.lastSeq = rec.Seq
		if visit != nil {
			visit(rec)
		}
	}
}

// BySource returns the records of source, in order.
func BySource(recs []Record, source string) []Record {
	return filter(recs, func(r Record) bool { return r.Source == source })
}

// ByStack returns the records that touched stack (see Record.Touches), in
// order.
func ByStack(recs []Record, stack string) []Record {
	return filter(recs, func(r Record) bool { return r.Touches(stack) })
}

// Last returns the last n records (all of them when n <= 0 or there are
// fewer). It shares recs' backing array.
func Last(recs []Record, n int) []Record {
	if n <= 0 || len(recs) <= n {
		return recs
	}
	return recs[len(recs)-n:]
}

func filter(recs []Record, keep func(Record) bool) []Record {
	var out []Record
	for _, r := range recs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}
