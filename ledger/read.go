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

// Corrupt is a line of a ledger file that is not a record: edited by hand,
// damaged on disk, or the torn remains of a crash in the middle of a write.
// Read skips it; nothing in moor removes it from the file.
type Corrupt struct {
	Line   int   // 1-based
	Offset int64 // of its first byte
	Size   int64 // its bytes, without the '\n'
	// Torn: it is the last line and has no '\n' (the next Append ends it).
	Torn bool
	// Why is what is wrong with it: the JSON decoder's error, or what
	// the record lacks.
	Why string
}

func (c Corrupt) String() string {
	torn := ""
	if c.Torn {
		torn = ", torn: no line end"
	}
	return fmt.Sprintf("line %d (%d bytes at offset %d%s) is not a record, skipped: %s", c.Line, c.Size, c.Offset, torn, c.Why)
}

// Read returns every record of the ledger file at path, oldest first, and
// the lines that are not records (see Corrupt), which it skips. A file that
// does not exist yet holds no records. The error is for a file that cannot
// be read at all.
func Read(path string) ([]Record, []Corrupt, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read ledger: %w", err)
	}
	defer f.Close()
	var recs []Record
	st, err := scan(f, path, func(r Record) { recs = append(recs, r) })
	if err != nil {
		return nil, nil, err
	}
	return recs, st.corrupt, nil
}

type scanStats struct {
	lastSeq int64 // the highest Seq of any record
	end     int64 // offset just past the last '\n'
	size    int64 // bytes read
	corrupt []Corrupt
}

// scan reads records from r, calling visit (when not nil) on each one.
// Blank lines are skipped; a line that does not decode into a record with
// a Seq is reported in corrupt. The last line may lack its '\n' (Append
// writes a record and its '\n' with one write, so that is the remains of
// a crash, or of a hand): it is a record when it decodes as one, and
// corrupt otherwise (a torn record, or the NULs a power cut can leave).
func scan(r io.Reader, name string, visit func(Record)) (scanStats, error) {
	var st scanStats
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return st, fmt.Errorf("read ledger %s: %w", name, err)
		}
		offset := st.size
		st.size += int64(len(b))
		torn := err == io.EOF
		if !torn {
			st.end = st.size
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		if len(bytes.TrimSpace(b)) > 0 {
			rec, why := decode(b)
			switch {
			case why != "":
				st.corrupt = append(st.corrupt, Corrupt{Line: line, Offset: offset, Size: int64(len(b)), Torn: torn, Why: why})
			default:
				st.lastSeq = max(st.lastSeq, rec.Seq)
				if visit != nil {
					visit(rec)
				}
			}
		}
		if torn {
			return st, nil
		}
	}
}

// decode decodes one line into a record, or says why it is none.
func decode(b []byte) (Record, string) {
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, err.Error()
	}
	if rec.Seq <= 0 {
		return rec, "no seq"
	}
	return rec, ""
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
